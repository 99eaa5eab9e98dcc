"""One contact in one call: how many records of each kind it has, and its timeline.

The timeline merges notes, calls, activities, conversations, life events, gifts, debts,
tasks and reminders newest first (ties: kind, then id, both descending), keyset-paged with
a cursor naming the last entry's moment, kind and id (`prev_cursor`: the first entry's, read
backwards through the same per-table indexes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    with_total: bool = False,
) -> Page[TimelineEntry]:
    key = pagination.decode(cursor, _CURSOR, {"t": str, "n": str, "i": int})
    position = None
    if key:
        if key["n"] not in repo.TIMELINE:
            raise BadRequest("the cursor is malformed", code="invalid-cursor")
        position = {
            "at": (parse_moment(key["t"]), key["n"], cursor_id(key["i"])),
            "b": key.get("b"),
        }
    if contact_id > INT64_MAX:
        raise not_found("contact")
    account_id = principal.account_id

    async def older(k: dict[str, Any] | None) -> Sequence[Any]:
        start = k["at"] if k else None
        return await repo.timeline(session, account_id, contact_id, after=start, limit=limit)

    async def newer(k: dict[str, Any]) -> Sequence[Any]:
        return await repo.timeline(
            session, account_id, contact_id, after=None, before=k["at"], limit=limit
        )

    found = await pagination.window(position, limit, older, newer)
    if not found.rows:  # rows prove the contact is the caller's; an empty page must ask
        await check_contact(session, account_id, contact_id)
    entries = [
        TimelineEntry(kind=row.kind, id=row.id, at=row.at, summary=row.summary)
        for row in found.rows
    ]
    next_cursor = prev_cursor = None
    if found.has_next and entries:
        last = entries[-1]
        next_cursor = pagination.encode(_CURSOR, t=last.at.isoformat(), n=last.kind, i=last.id)
    if found.has_prev and entries:
        first = entries[0]
        prev_cursor = pagination.encode_before(
            _CURSOR, t=first.at.isoformat(), n=first.kind, i=first.id
        )
    total = None
    if with_total:
        total = sum(
            (await repo.count_of_contact(session, repo.TIMELINE, account_id, contact_id)).values()
        )
    meta = PageMeta(
        next_cursor=next_cursor, has_more=found.has_next, prev_cursor=prev_cursor, total=total
    )
    return Page[TimelineEntry](data=entries, meta=meta)
