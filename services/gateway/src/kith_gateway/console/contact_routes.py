"""/console/contacts: the list with search, and one contact."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from kith_gateway.console.access import NoStoreRoute, Visitor, html, page
from kith_gateway.console.session_routes import ConsoleCookie
from kith_gateway.deps import Context, Session
from kith_gateway.pagination import DEFAULT_LIMIT
from kith_gateway.services import contacts, duplicates

router = APIRouter(route_class=NoStoreRoute)
Id = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/contacts")
async def contact_list(
    session: Session,
    ctx: Context,
    cookie: ConsoleCookie = None,
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
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
        )
        return html("contacts.html", v, title="Contacts", page=found, q=q)

    return await page(session, ctx.settings.encryption_key(), cookie, run)


@router.get("/contacts/{contact_id}")
async def contact_detail(
    session: Session, ctx: Context, contact_id: Id, cookie: ConsoleCookie = None
) -> Response:
    async def run(v: Visitor) -> Response:
        item = await contacts.get_contact(session, v.user, contact_id)
        possible, _ = await duplicates.page_rows(
            session, v.user.account_id, "pending", None, 20, contact_id=contact_id
        )
        return html(
            "contact.html", v, title=item.display_name, c=item, possible_duplicates=possible
        )

    return await page(session, ctx.settings.encryption_key(), cookie, run)
