"""/v1/admin/*: operator tokens only (bus state, dead letters, phone backfills)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from kith_gateway.deps import Context, OperatorCaller, Session
from kith_gateway.pagination import DEFAULT_LIMIT, Cursor, Limit, WithTotal
from kith_gateway.schemas.admin import (
    BusOut,
    DeadLetterOut,
    RenormalizeAccepted,
    RenormalizeIn,
    ReplayAccepted,
)
from kith_gateway.schemas.common import Page
from kith_gateway.services import admin

router = APIRouter(prefix="/admin", tags=["operator"])


@router.get("/bus", response_model=BusOut)
async def bus_state(ctx: Context, operator: OperatorCaller) -> BusOut:
    return await admin.bus(ctx)


@router.get("/dlq", response_model=Page[DeadLetterOut])
async def dead_letters(
    ctx: Context,
    operator: OperatorCaller,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    with_total: WithTotal = False,
) -> Page[DeadLetterOut]:
    return await admin.dead_letters(ctx, cursor, limit, with_total=with_total)


@router.post(
    "/dlq/{seq}/replay", response_model=ReplayAccepted, status_code=status.HTTP_202_ACCEPTED
)
async def replay(
    ctx: Context, operator: OperatorCaller, seq: Annotated[int, Path(ge=1, le=2**62)]
) -> ReplayAccepted:
    return await admin.replay(ctx, seq)


@router.post(
    "/phones/renormalize",
    response_model=RenormalizeAccepted,
    status_code=status.HTTP_202_ACCEPTED,
)
async def renormalize(
    session: Session, operator: OperatorCaller, body: RenormalizeIn
) -> RenormalizeAccepted:
    return await admin.renormalize(session, body.account_id)
