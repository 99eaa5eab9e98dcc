"""Account reset endpoints over `kith_common.resets` (admission, reads).

The confirmation is checked before anything is recorded or bumped; `admit` then records the
reset and bumps the generation in this request's transaction, so 202/409 is atomic.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import resets
from kith_common.errors import InvalidInput
from kith_gateway import pagination
from kith_gateway.deps import Principal
from kith_gateway.middleware import correlation_id
from kith_gateway.repositories import accounts as account_repo
from kith_gateway.schemas.common import Page, PageMeta
from kith_gateway.schemas.resets import (
    RequestedBy,
    ResetAccepted,
    ResetDomainOut,
    ResetError,
    ResetOut,
)
from kith_gateway.services.guards import reset_in_progress

CONFIRMATION = "RESET"
_CURSOR = "resets"


def check_confirmation(body: Any) -> None:
    """reset.md §2: exactly {"confirm": "RESET"}; anything else → 422 invalid_confirmation."""
    valid = (
        isinstance(body, dict)
        and set(body) == {"confirm"}
        and isinstance(body["confirm"], str)
        and body["confirm"] == CONFIRMATION
    )
    if not valid:
        raise InvalidInput(
            'send {"confirm": "RESET"} to reset the account',
            code="invalid_confirmation",
            errors=[{"field": "confirm", "message": 'must be exactly "RESET"'}],
        )


async def request_reset(
    session: AsyncSession, principal: Principal, body: Any, stall_seconds: int
) -> ResetAccepted:
    check_confirmation(body)
    user = await account_repo.user(session, principal.account_id, principal.user_id)
    assert user is not None  # the token's user was just read
    admission = await resets.admit(
        session,
        account_id=principal.account_id,
        user=user,
        correlation_id=correlation_id(),
        stall_seconds=stall_seconds,
    )
    if not admission.accepted:
        await session.rollback()
        raise reset_in_progress(admission.reset_id)
    await session.commit()
    return ResetAccepted(
        id=admission.reset_id,
        attempt=admission.attempt,
        status="running",
        status_url=admission.status_url,
    )


def reset_out(view: resets.ResetView) -> ResetOut:
    error = (
        ResetError(domain=view.error.get("domain"), message=view.error.get("message"))
        if view.error
        else None
    )
    return ResetOut(
        id=view.id,
        status=view.status,  # type: ignore[arg-type]  # CHECK-constrained column
        stage=view.stage,
        attempt=view.attempt,
        generation=view.generation,
        requested_by=RequestedBy(id=view.requested_by_id, name=view.requested_by_name),
        requested_at=view.requested_at,
        started_at=view.started_at,
        finished_at=view.finished_at,
        stalled=view.stalled,
        error=error,
        totals=view.totals,
        domains=[
            ResetDomainOut(
                domain=d.domain,
                stage=d.stage,
                status=d.status,
                counts=d.counts,
                deliveries=d.deliveries,
                last_error=d.last_error,
                started_at=d.started_at,
                finished_at=d.finished_at,
            )
            for d in view.domains
        ],
        status_url=view.status_url,
    )


async def get_reset(
    session: AsyncSession, principal: Principal, reset_id: int, stall_seconds: int
) -> ResetOut:
    view = await resets.get_reset(
        session, principal.account_id, reset_id, stall_seconds=stall_seconds
    )
    return reset_out(view)


def _micros(view: resets.ResetView) -> int:
    return int(view.requested_at.timestamp() * 1_000_000)


async def list_resets(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int, stall_seconds: int
) -> Page[ResetOut]:
    """Newest first; resets are few, so the page is cut from the shared reader's list."""
    key = pagination.decode(cursor, _CURSOR, {"t": int, "i": int})
    views = await resets.list_resets(session, principal.account_id, stall_seconds=stall_seconds)
    if key is not None:
        views = [v for v in views if (_micros(v), v.id) < (key["t"], key["i"])]
    more = len(views) > limit
    views = views[:limit]
    next_cursor = pagination.encode(_CURSOR, t=_micros(views[-1]), i=views[-1].id) if more else None
    return Page(
        data=[reset_out(v) for v in views], meta=PageMeta(next_cursor=next_cursor, has_more=more)
    )
