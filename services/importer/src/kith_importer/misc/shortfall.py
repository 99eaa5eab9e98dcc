"""Shortfall of an account-wide list (importer.md §8 "Shortfall").

When a type's distinct ids stay below `meta.total` (a tie drop under LIMIT/OFFSET, API §11.1),
calls, activities, gifts, debts, tasks and reminders are re-fetched per contact, but only for
contacts whose Monica `statistics` count exceeds what was imported: a handful of requests
instead of one per contact. The crawl stages those counts (`counts_of`) per local contact while
it imports the contact, because the listing is the only place Monica sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.events.payloads.imports import ImportOptions
from kith_importer.misc import queries
from kith_importer.misc.apply import MiscScope
from kith_importer.misc.mappers import MiscType
from kith_importer.parsing import as_int

__all__ = ["STATISTICS", "counts_of", "short_contacts"]

# Misc option → its key in a contact's `statistics` (API §5: exact counts; none exist for
# pets, conversations, life events or journal entries, so those cannot be re-fetched).
STATISTICS: Final = {
    "calls": "number_of_calls",
    "activities": "number_of_activities",
    "gifts": "number_of_gifts",
    "debts": "number_of_debts",
    "tasks": "number_of_tasks",
    "reminders": "number_of_reminders",
}


def counts_of(statistics: Mapping[str, Any], options: ImportOptions) -> dict[str, int]:
    """The positive counts of the enabled re-fetchable types (what the crawl stages)."""
    out: dict[str, int] = {}
    for option, key in STATISTICS.items():
        count = as_int(statistics.get(key))
        if getattr(options, option, False) and count is not None and count > 0:
            out[option] = count
    return out


async def short_contacts(session: AsyncSession, scope: MiscScope, mtype: MiscType) -> list[int]:
    """Monica contact ids to re-fetch `mtype` for, ascending.

    Counts are compared per live local contact: several Monica contacts merged into one add
    up, and a deleted contact is never re-fetched (its items would be skipped anyway).
    """
    expected = await queries.staged_counts(session, scope.import_id, mtype.option)
    if not expected:
        return []
    live = await queries.live_contacts(session, scope.account_id, expected)
    wanted: dict[int, int] = {}
    origins: dict[int, set[int]] = {}
    for local, count in expected.items():
        now = live.get(local)
        if now is None:
            continue
        wanted[now] = wanted.get(now, 0) + count
        origins.setdefault(now, {now}).add(local)
    have = await queries.imported_counts(
        session, scope.account_id, scope.source, mtype.entity, wanted
    )
    short = {o for now, count in wanted.items() if have.get(now, 0) < count for o in origins[now]}
    return await queries.monica_contacts(session, scope.account_id, scope.source, short)
