"""/console/duplicates and the merge (pick the survivor, choose fields, review).

The list shows each pair side by side with the evidence marked (pair_card.html). Merging
from the list takes two clicks: "Keep X" opens step 3 directly (the preview the API serves,
default field choices), "Merge" confirms; "Choose fields…" walks steps 1 and 2 first. A
dismissal returns to the same page (JavaScript removes the card in place instead).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any, get_args
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response

from kith_common.events.payloads.contacts import MergeField
from kith_gateway.console.access import NoStoreRoute, Visitor, html, page, see_other
from kith_gateway.console.paging import PageNumber, pager
from kith_gateway.console.session_routes import ConsoleCookie
from kith_gateway.deps import Context, Session, check_role
from kith_gateway.pagination import DEFAULT_LIMIT
from kith_gateway.schemas.duplicates import MergeIn
from kith_gateway.services import contacts, duplicates, merges

router = APIRouter(route_class=NoStoreRoute)
Id = Annotated[int, Path(ge=1, le=2**62)]
QId = Annotated[int, Query(ge=1, le=2**62)]
Csrf = Annotated[str, Form()]
STATUSES = ("pending", "dismissed", "merged", "obsolete")
FIELDS: tuple[str, ...] = get_args(MergeField)


@router.get("/duplicates")
async def duplicate_list(
    request: Request,
    session: Session,
    ctx: Context,
    cookie: ConsoleCookie = None,
    status: Annotated[str, Query(pattern="^(pending|dismissed|merged|obsolete)$")] = "pending",
    sort: Annotated[str, Query(pattern="^(confidence|score)$")] = "confidence",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    scan: Annotated[str | None, Query(max_length=40)] = None,
    since: Annotated[dt.datetime | None, Query()] = None,
    page_number: Annotated[PageNumber, Query(alias="page")] = 1,
) -> Response:
    async def run(v: Visitor) -> Response:
        data, next_cursor, prev_cursor = await duplicates.page_rows(
            session, v.user.account_id, status, cursor, DEFAULT_LIMIT, sort=sort
        )
        counts = await duplicates.counts(session, v.user)
        where = pager(
            "/console/duplicates",
            number=page_number,
            size=DEFAULT_LIMIT,
            shown=len(data),
            total=getattr(counts, status),
            next_cursor=next_cursor,
            prev_cursor=prev_cursor,
            params={"status": status, "sort": sort},
        )
        scanning = None
        if scan is not None and since is not None:
            done = await duplicates.scan_finished_since(session, v.user, since)
            scanning = "done" if done else "running"
        return html(
            "duplicates.html",
            v,
            title="Duplicates",
            data=data,
            pager=where,
            current=status,
            sort=sort,
            statuses=STATUSES,
            counts=counts,
            scanning=scanning,
            back=_this_page(request),
        )

    return await page(session, ctx.settings.encryption_key(), cookie, run)


def _this_page(request: Request) -> str:
    """This list page's path and query, without the scan notice: where a dismissal returns."""
    query = "&".join(
        f"{k}={quote(v, safe='')}"
        for k, v in request.query_params.items()
        if k not in ("scan", "since")
    )
    return "/console/duplicates" + (f"?{query}" if query else "")


_BACK = re.compile(r"^/console/(duplicates(\?[^/\\]*)?|contacts/\d+)$")


def _back(url: str) -> str:
    """A return address on the duplicates list or a contact page (never an open redirect)."""
    return url if _BACK.match(url) else "/console/duplicates"


@router.post("/duplicates/scan")
async def scan(
    session: Session, ctx: Context, csrf: Csrf = "", cookie: ConsoleCookie = None
) -> Response:
    async def run(v: Visitor) -> Response:
        since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        accepted = await duplicates.scan(session, check_role(v.user, "admin"))
        return see_other(f"/console/duplicates?scan={accepted.id}&since={since}")

    return await page(session, ctx.settings.encryption_key(), cookie, run, csrf=csrf)


@router.post("/duplicates/{candidate_id}/dismiss")
async def dismiss(
    session: Session,
    ctx: Context,
    candidate_id: Id,
    csrf: Csrf = "",
    back: Annotated[str, Form(max_length=2000)] = "",
    cookie: ConsoleCookie = None,
) -> Response:
    async def run(v: Visitor) -> Response:
        await duplicates.dismiss(session, check_role(v.user, "editor"), candidate_id)
        return see_other(_back(back))

    return await page(session, ctx.settings.encryption_key(), cookie, run, csrf=csrf)


@router.get("/merge")
async def pick(
    session: Session,
    ctx: Context,
    a: QId,
    b: QId,
    candidate: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    cookie: ConsoleCookie = None,
) -> Response:
    async def run(v: Visitor) -> Response:
        check_role(v.user, "editor")
        pair = [await contacts.get_contact(session, v.user, i) for i in (a, b)]
        return html(
            "merge_pick.html",
            v,
            title="Merge: 1. Keep which contact?",
            pair=pair,
            candidate=candidate,
        )

    return await page(session, ctx.settings.encryption_key(), cookie, run)


@router.get("/merge/fields")
async def choose(
    session: Session,
    ctx: Context,
    survivor: QId,
    loser: QId,
    candidate: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    cookie: ConsoleCookie = None,
) -> Response:
    async def run(v: Visitor) -> Response:
        check_role(v.user, "editor")
        keep = await contacts.get_contact(session, v.user, survivor)
        lose = await contacts.get_contact(session, v.user, loser)
        rows = [
            (name, _shown(keep, name), _shown(lose, name))
            for name in FIELDS
            if _shown(keep, name) or _shown(lose, name)
        ]
        return html(
            "merge_fields.html",
            v,
            title="Merge: 2. Choose fields",
            keep=keep,
            lose=lose,
            rows=rows,
            candidate=candidate,
        )

    return await page(session, ctx.settings.encryption_key(), cookie, run)


def _shown(contact: Any, name: str) -> str:
    if name == "avatar":
        return "photo" if getattr(contact, "photos", None) else ""
    value = getattr(contact, name, None)
    return "" if value is None else str(value)


def _merge_in(query: Any) -> MergeIn:
    choices = {
        name: query.get(f"f_{name}")
        for name in FIELDS
        if query.get(f"f_{name}") in ("survivor", "loser")
    }
    candidate = query.get("candidate")
    return MergeIn(
        survivor_id=int(query.get("survivor", 0)),
        loser_id=int(query.get("loser", 0)),
        field_choices=choices,
        candidate_id=int(candidate) if candidate else None,
    )


@router.get("/merge/review")
async def review(
    request: Request, session: Session, ctx: Context, cookie: ConsoleCookie = None
) -> Response:
    async def run(v: Visitor) -> Response:
        check_role(v.user, "editor")
        body = _merge_in(request.query_params)
        report = await merges.preview(session, v.user, body)
        sides = [
            await contacts.get_contact(session, v.user, i)
            for i in (body.survivor_id, body.loser_id)
        ]
        return html(
            "merge_review.html", v, title="Merge: 3. Review", body=body, report=report, sides=sides
        )

    return await page(session, ctx.settings.encryption_key(), cookie, run)


@router.post("/merge")
async def merge(
    request: Request, session: Session, ctx: Context, cookie: ConsoleCookie = None
) -> Response:
    form = await request.form(max_files=0, max_fields=40)

    async def run(v: Visitor) -> Response:
        accepted = await merges.request_merge(
            session, check_role(v.user, "editor"), _merge_in(form)
        )
        return see_other(f"/console/merges/{accepted.id}")

    secret = ctx.settings.encryption_key()
    return await page(session, secret, cookie, run, csrf=str(form.get("csrf") or ""))


@router.get("/merges/{merge_id}")
async def merge_result(
    session: Session, ctx: Context, merge_id: uuid.UUID, cookie: ConsoleCookie = None
) -> Response:
    async def run(v: Visitor) -> Response:
        result = await merges.get_merge(session, check_role(v.user, "editor"), merge_id)
        return html("merge_result.html", v, title="Merge result", m=result)

    return await page(session, ctx.settings.encryption_key(), cookie, run)
