"""/console/contacts: the list with search, and one contact with everything it has.

The contact page shows its counts, relationships (partial contacts marked), photos as lazy
thumbnails and documents as downloads, both served by the content routes here (the
cookie's user, the same access rules as the API's), and its timeline, paged by `tl`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import Response

from kith_gateway.console.access import NoStoreRoute, Visitor, html, page
from kith_gateway.console.paging import PageNumber, pager, pager_of
from kith_gateway.console.session_routes import ConsoleCookie
from kith_gateway.deps import Context, Session
from kith_gateway.downloads import file_response
from kith_gateway.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kith_gateway.services import contacts, duplicates, media, records, timeline

router = APIRouter(route_class=NoStoreRoute)
Id = Annotated[int, Path(ge=1, le=2**62)]
TIMELINE_PAGE = 20


@router.get("/contacts")
async def contact_list(
    session: Session,
    ctx: Context,
    cookie: ConsoleCookie = None,
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    page_number: Annotated[PageNumber, Query(alias="page")] = 1,
) -> Response:
    async def run(v: Visitor) -> Response:
        found = await contacts.list_contacts(
            session,
            v.user,
            q=q or None,
            trashed=False,
            favorite=None,
            archived=None,
            cursor=cursor,
            limit=DEFAULT_LIMIT,
            with_total=True,
        )
        where = pager_of("/console/contacts", found.meta, page_number, len(found.data), q=q)
        return html("contacts.html", v, title="Contacts", page=found, q=q, pager=where)

    return await page(session, ctx.settings.encryption_key(), cookie, run)


@router.get("/contacts/{contact_id}")
async def contact_detail(
    session: Session,
    ctx: Context,
    contact_id: Id,
    cookie: ConsoleCookie = None,
    tl: Annotated[str | None, Query(max_length=1000, description="Timeline cursor.")] = None,
    tlp: Annotated[PageNumber, Query(description="The timeline page's number.")] = 1,
) -> Response:
    async def run(v: Visitor) -> Response:
        item = await contacts.get_contact(session, v.user, contact_id)
        possible, _, _ = await duplicates.page_rows(
            session, v.user.account_id, "pending", None, 20, contact_id=contact_id
        )
        history = await timeline.timeline(
            session, v.user, contact_id, cursor=tl, limit=TIMELINE_PAGE, with_total=True
        )
        where = pager(
            f"/console/contacts/{contact_id}",
            number=tlp,
            size=TIMELINE_PAGE,
            shown=len(history.data),
            total=history.meta.total or 0,
            next_cursor=history.meta.next_cursor,
            prev_cursor=history.meta.prev_cursor,
            cursor_param="tl",
            page_param="tlp",
            fragment="#timeline",
        )
        linked = await _all(session, v, "relationships", contact_id)
        files = await _all(session, v, "documents", contact_id)
        return html(
            "contact.html",
            v,
            title=item.display_name,
            c=item,
            timeline=history,
            timeline_pager=where,
            relationships=linked,
            documents=files,
            possible_duplicates=possible,
        )

    return await page(session, ctx.settings.encryption_key(), cookie, run)


async def _all(session: Session, v: Visitor, path: str, contact_id: int) -> list[Any]:
    """A contact's relationships or documents: few enough for one page of the largest size."""
    found: Any = await records.list_records(
        session, v.user, records.BY_PATH[path], contact_id=contact_id, cursor=None, limit=MAX_LIMIT
    )
    return list(found.data)


def _content_route(path: str, *, attachment: bool) -> Any:
    async def content(
        session: Session,
        ctx: Context,
        item_id: Id,
        cookie: ConsoleCookie = None,
        if_none_match: Annotated[str | None, Header(max_length=1000)] = None,
    ) -> Response:
        """The bytes behind a thumbnail or a download link, for the signed-in user."""

        async def run(v: Visitor) -> Response:
            stored = await media.read(
                session,
                ctx.settings.storage_url,
                v.user,
                path,
                item_id,
                if_none_match=if_none_match,
            )
            return file_response(stored, attachment=attachment)

        secret = ctx.settings.encryption_key()
        return await page(session, secret, cookie, run, banner=False)

    return content


for _path, _attachment in (("photos", False), ("documents", True)):
    router.add_api_route(
        f"/{_path}/{{item_id}}/content",
        _content_route(_path, attachment=_attachment),
        methods=["GET"],
    )
