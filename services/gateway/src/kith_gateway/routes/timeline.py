"""/v1/contacts/{id}/timeline: a contact's history, newest first, keyset-paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from kith_gateway.deps import Session, Viewer
from kith_gateway.pagination import DEFAULT_LIMIT, Cursor, Limit, WithTotal
from kith_gateway.schemas.common import Page
from kith_gateway.schemas.records import TimelineEntry
from kith_gateway.services import timeline

router = APIRouter(prefix="/contacts", tags=["contacts"])


@router.get("/{contact_id}/timeline", response_model=Page[TimelineEntry])
async def contact_timeline(
    session: Session,
    caller: Viewer,
    contact_id: Annotated[int, Path(ge=1)],
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    with_total: WithTotal = False,
) -> Page[TimelineEntry]:
    """Notes, calls, activities, conversations, life events, gifts, debts, tasks and
    reminders, merged newest first; read an entry whole at `/v1/<kind>s/{id}`."""
    return await timeline.timeline(
        session, caller, contact_id, cursor=cursor, limit=limit, with_total=with_total
    )
