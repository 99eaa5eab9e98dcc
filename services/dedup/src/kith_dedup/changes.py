"""Incremental scans of contacts changed through the API, coalesced per account (issue 18).

The contact.* handler records the changed contact in `dedup_dirty_contacts` (committed) and
pokes the account's `Coalescer`. One task per account waits `delay`, then scans every
recorded contact of the account in one incremental run and deletes the rows it covered in
the run's write transaction; changes that arrive meanwhile make it run once more. A script
editing 1,000 contacts thus costs a handful of runs, not 1,000, and a restart finds the rows
still to scan (the service pokes every account that has some on start).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence
from kith_common.bus import outbox
from kith_common.db.models import DedupDirtyContact
from kith_common.errors import StaleGeneration
from kith_common.events.payloads.dedup import DedupScanCompleted
from kith_common.events.registry import build_envelope
from kith_common.events.subjects import DEDUP_SCAN_COMPLETED
from kith_dedup.scans import ScanRequest, run_scan

__all__ = ["BATCH", "Coalescer", "accounts_with_changes", "record_change", "scan_changes"]

log = structlog.get_logger(__name__)

# Contacts one run takes at most; more stay recorded for the next round.
BATCH = 2000


async def record_change(session: AsyncSession, account_id: int, contact_id: int) -> None:
    """Remember that the contact changed (again: its time moves, so a running scan that read
    the older row does not delete this one)."""
    statement = pg_insert(DedupDirtyContact).values(account_id=account_id, contact_id=contact_id)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[DedupDirtyContact.account_id, DedupDirtyContact.contact_id],
            set_={"queued_at": func.clock_timestamp()},
        )
    )


async def accounts_with_changes(session: AsyncSession) -> list[int]:
    rows = await session.scalars(select(DedupDirtyContact.account_id).distinct())
    return [int(a) for a in rows]


async def scan_changes(sessions: async_sessionmaker[AsyncSession], account_id: int) -> bool:
    """One incremental run over the account's recorded contacts; False when there were none."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(DedupDirtyContact.contact_id, DedupDirtyContact.queued_at)
                .where(DedupDirtyContact.account_id == account_id)
                .order_by(DedupDirtyContact.queued_at)
                .limit(BATCH)
            )
        ).all()
        generation = await fence.current_generation(session, account_id)
    if not rows:
        return False
    seen: list[tuple[int, dt.datetime]] = [(int(c), q) for c, q in rows]

    @contextlib.asynccontextmanager
    async def unit_of_work() -> AsyncIterator[AsyncSession]:
        async with sessions() as session, session.begin():
            await fence.hold(session, account_id, generation)
            yield session
            dc = DedupDirtyContact
            await session.execute(
                delete(dc).where(
                    dc.account_id == account_id,
                    tuple_(dc.contact_id, dc.queued_at).in_(seen),
                )
            )

    async def publish(session: AsyncSession, result: DedupScanCompleted) -> None:
        envelope = build_envelope(
            DEDUP_SCAN_COMPLETED, result, account_id=account_id, generation=generation
        )
        await outbox.add(session, DEDUP_SCAN_COMPLETED, envelope)

    async def nothing() -> None:
        return None

    request = ScanRequest(
        uuid.uuid4(), account_id, "contact_change", contact_ids=tuple(c for c, _ in seen)
    )
    try:
        await run_scan(
            request,
            sessions=sessions,
            unit_of_work=unit_of_work,
            heartbeat=nothing,
            publish=publish,
        )
    except StaleGeneration:
        log.info("dedup_change_scan_stale", account_id=account_id)
    return True


class Coalescer:
    """At most one pending or running change scan per account; pokes meanwhile fold into it."""

    def __init__(self, run: Callable[[int], Awaitable[bool]], delay: float = 0.5) -> None:
        self._run = run
        self._delay = delay
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()

    def poke(self, account_id: int) -> None:
        if account_id in self._tasks:
            self._again.add(account_id)
            return
        self._tasks[account_id] = asyncio.create_task(self._loop(account_id))

    async def _loop(self, account_id: int) -> None:
        try:
            while True:
                await asyncio.sleep(self._delay)
                self._again.discard(account_id)
                try:
                    more = await self._run(account_id)
                except Exception:  # logged; the rows stay for the next poke
                    log.exception("dedup_change_scan_failed", account_id=account_id)
                    more = False
                # No await from here to the pop: a poke now either sees the task or not.
                if not more and account_id not in self._again:
                    return
        finally:
            self._tasks.pop(account_id, None)

    async def drain(self) -> None:
        """Wait for every scheduled run (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
