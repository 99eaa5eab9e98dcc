"""/v1/account/reset (admin) and /v1/account/resets (any role): reset.md §2."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status

from kith_gateway.deps import Admin, Context, Session, Viewer
from kith_gateway.pagination import DEFAULT_LIMIT, Cursor, Limit
from kith_gateway.schemas.common import Page
from kith_gateway.schemas.resets import ResetAccepted, ResetOut
from kith_gateway.services import resets

router = APIRouter(prefix="/account", tags=["resets"])

_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"confirm": {"type": "string", "enum": ["RESET"]}},
                    "required": ["confirm"],
                    "additionalProperties": False,
                }
            }
        },
    }
}


@router.post(
    "/reset",
    response_model=ResetAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_BODY_SCHEMA,
    responses={409: {"description": "A reset is running (`reset_in_progress`)."}},
)
async def reset_account(
    request: Request, response: Response, session: Session, caller: Admin, ctx: Context
) -> ResetAccepted:
    body: Any
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        body = None
    accepted = await resets.request_reset(session, caller, body, ctx.settings.reset_stall_seconds)
    response.headers["Location"] = accepted.status_url
    return accepted


@router.get("/resets", response_model=Page[ResetOut])
async def list_resets(
    session: Session,
    caller: Viewer,
    ctx: Context,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ResetOut]:
    return await resets.list_resets(
        session, caller, cursor, limit, ctx.settings.reset_stall_seconds
    )


@router.get("/resets/{reset_id}", response_model=ResetOut)
async def get_reset(
    session: Session,
    caller: Viewer,
    ctx: Context,
    reset_id: Annotated[int, Path(ge=1, le=2**62)],
) -> ResetOut:
    return await resets.get_reset(session, caller, reset_id, ctx.settings.reset_stall_seconds)
