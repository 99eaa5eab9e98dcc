"""/console/operator: services (up, restarts), streams, consumers and the DLQ with replay.

Operator token only. The services panel is the only place that shows hosts and pids.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import Response

from kith_gateway.console.access import NoStoreRoute, Visitor, html, page, see_other
from kith_gateway.console.paging import PageNumber, pager_of
from kith_gateway.console.session_routes import ConsoleCookie
from kith_gateway.deps import Context, Session
from kith_gateway.pagination import DEFAULT_LIMIT
from kith_gateway.services import admin, presence

router = APIRouter(route_class=NoStoreRoute)


@router.get("/operator")
async def operator_page(
    session: Session,
    ctx: Context,
    cookie: ConsoleCookie = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    page_number: Annotated[PageNumber, Query(alias="page")] = 1,
) -> Response:
    async def run(v: Visitor) -> Response:
        bus = await admin.bus(ctx)
        letters = await admin.dead_letters(ctx, cursor, DEFAULT_LIMIT, with_total=True)
        where = pager_of("/console/operator", letters.meta, page_number, len(letters.data))
        services = await presence.overview(session)
        return html(
            "operator.html",
            v,
            title="Operator",
            bus=bus,
            letters=letters,
            pager=where,
            presence=services,
            utc=dt.UTC,
        )

    secret = ctx.settings.encryption_key()
    return await page(session, secret, cookie, run, operator=True)


@router.post("/operator/dlq/{seq}/replay")
async def replay(
    session: Session,
    ctx: Context,
    seq: Annotated[int, Path(ge=1, le=2**62)],
    csrf: Annotated[str, Form()] = "",
    cookie: ConsoleCookie = None,
) -> Response:
    async def run(v: Visitor) -> Response:
        await admin.replay(ctx, seq)
        return see_other("/console/operator?replayed=1")

    secret = ctx.settings.encryption_key()
    return await page(session, secret, cookie, run, csrf=csrf, operator=True)
