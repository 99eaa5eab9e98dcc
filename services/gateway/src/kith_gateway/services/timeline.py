"""One contact in one call: how many records of each kind it has, and its timeline.

The timeline merges notes, calls, activities, conversations, life events, gifts, debts,
tasks and reminders newest first (ties: kind, then id, both descending), keyset-paged with
a cursor naming the last entry's moment, kind and id.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kith_gateway import pagination
from kith_gateway.deps import Principal
from kith_gateway.problems import BadRequest
from kith_gateway.repositories import records as repo
from kith_gateway.schemas.common import Page, PageMeta
from kith_gateway.schemas.records import ContactCounts, TimelineEntry
from kith_gateway.services.records import (
    BY_PATH,
    INT64_MAX,
    check_contact,
    cursor_id,
    not_found,
    parse_moment,
)

_CURSOR = "timeline"
# ContactCounts' field → the list it counts.
_COUNTED = {name: BY_PATH[name.replace("_", "-")].source for name in ContactCounts.model_fields}


async def counts(session: AsyncSession, account_id: int, contact_id: int) -> ContactCounts:
    return ContactCounts(**await repo.count_of_contact(session, _COUNTED, account_id, contact_id))


async def timeline(
    session: AsyncSession,
    principal: Principal,
    contact_id: int,
    *,
    cursor: str | None,
    limit: int,
) -> Page[TimelineEntry]:
    key = pagination.decode(cursor, _CURSOR, {"t": str, "n": str, "i": int})
    after = None
    if key:
        if key["n"] not in repo.TIMELINE:
            raise BadRequest("the cursor is malformed", code="invalid-cursor")
        after = (parse_moment(key["t"]), key["n"], cursor_id(key["i"]))
    if contact_id > INT64_MAX:
        raise not_found("contact")
    rows = await repo.timeline(session, principal.account_id, contact_id, after=after, limit=limit)
    if not rows:  # rows prove the contact is the caller's; an empty page must ask
        await check_contact(session, principal.account_id, contact_id)
    more = len(rows) > limit
    entries = [
        TimelineEntry(kind=row.kind, id=row.id, at=row.at, summary=row.summary)
        for row in rows[:limit]
    ]
    next_cursor = None
    if more:
        last = entries[-1]
        next_cursor = pagination.encode(_CURSOR, t=last.at.isoformat(), n=last.kind, i=last.id)
    return Page[TimelineEntry](data=entries, meta=PageMeta(next_cursor=next_cursor, has_more=more))
