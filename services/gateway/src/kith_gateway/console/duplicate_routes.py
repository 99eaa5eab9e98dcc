"""/console/duplicates and the three-step merge (pick the survivor, choose fields, review).

Steps 1 and 2 are GET forms (they change nothing); step 3 shows the same preview the API
serves and posts the merge; the result page follows the merge until it is done.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response

from kith_common.events.payloads.contacts import MergeField
from kith_gateway.console.access import Visitor, html, page, see_other
from kith_gateway.console.session_routes import ConsoleCookie
from kith_gateway.deps import Context, Session, check_role
from kith_gateway.pagination import DEFAULT_LIMIT
from kith_gateway.schemas.duplicates import MergeIn
from kith_gateway.services import contacts, duplicates, merges

router = APIRouter()
Id = Annotated[int, Path(ge=1, le=2**62)]
QId = Annotated[int, Query(ge=1, le=2**62)]
Csrf = Annotated[str, Form()]
STATUSES = ("pending", "dismissed", "merged", "obsolete")
FIELDS: tuple[str, ...] = get_args(MergeField)


@router.get("/duplicates")
async def duplicate_list(
    session: Session,
    ctx: Context,
    cookie: ConsoleCookie = None,
    status: Annotated[str, Query(pattern="^(pending|dismissed|merged|obsolete)$")] = "pending",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    async def run(v: Visitor) -> Response:
        found = await duplicates.list_candidates(session, v.user, status, cursor, DEFAULT_LIMIT)
        counts = await duplicates.counts(session, v.user)
        return html(
            "duplicates.html",
            v,
            title="Duplicates",
            page=found,
            current=status,
            statuses=STATUSES,
            counts=counts,
        )

    return await page(session, ctx.settings.encryption_key(), cookie, run)


@router.post("/duplicates/scan")
async def scan(
    session: Session, ctx: Context, csrf: Csrf = "", cookie: ConsoleCookie = None
) -> Response:
    async def run(v: Visitor) -> Response:
        await duplicates.scan(session, check_role(v.user, "admin"))
        return see_other("/console/duplicates?scan=requested")

    return await page(session, ctx.settings.encryption_key(), cookie, run, csrf=csrf)


@router.post("/duplicates/{candidate_id}/dismiss")
async def dismiss(
    session: Session, ctx: Context, candidate_id: Id, csrf: Csrf = "", cookie: ConsoleCookie = None
) -> Response:
    async def run(v: Visitor) -> Response:
        await duplicates.dismiss(session, check_role(v.user, "editor"), candidate_id)
        return see_other("/console/duplicates")

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
