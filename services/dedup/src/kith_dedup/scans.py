"""A detection run of one account, full or incremental (dedup.md §3.4, §3.5).

One run at a time per account (advisory lock). The snapshot is read in one REPEATABLE READ
transaction, pairs are computed off the event loop, and the results are written in one short
fenced transaction (account row FOR SHARE + generation check: a run of an older generation
writes nothing) together with `kith.evt.dedup.scan.completed`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.events.payloads.dedup import DedupScanCompleted, ScanTrigger
from kith_dedup import metrics, queries
from kith_dedup.detection import AccountSnapshot, Detection, NameSets, detect

__all__ = ["ScanRequest", "run_scan"]

log = structlog.get_logger(__name__)

UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Publish = Callable[[AsyncSession, DedupScanCompleted], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """What to scan: the whole account (`import_id` None) or the contacts of one import."""

    scan_id: uuid.UUID
    account_id: int
    trigger: ScanTrigger
    import_id: int | None = None

    @property
    def mode(self) -> Literal["full", "incremental"]:
        return "full" if self.import_id is None else "incremental"


async def run_scan(
    request: ScanRequest,
    *,
    sessions: async_sessionmaker[AsyncSession],
    unit_of_work: UnitOfWork,
    heartbeat: Callable[[], Awaitable[None]],
    publish: Publish,
) -> DedupScanCompleted:
    """Run one detection pass; returns the published result.

    Raises:
        StaleGeneration: from `unit_of_work`, when the account was reset (nothing written).
    """
    started = time.perf_counter()
    async with sessions() as lock_session:
        await queries.lock_account_runs(lock_session, request.account_id)
        try:
            await heartbeat()
            focus, snapshot = await _read(sessions, request)
            await heartbeat()
            if focus is not None and not focus:
                detection = Detection()
            else:
                detection = await asyncio.to_thread(detect, snapshot, focus)
            await heartbeat()
            async with unit_of_work() as session:
                counts = await queries.write_results(
                    session, request.account_id, list(detection.pairs.values()), focus
                )
                considered = len(focus) if focus is not None else snapshot.names.contacts
                result = DedupScanCompleted(
                    scan_id=request.scan_id,
                    mode=request.mode,
                    trigger=request.trigger,
                    import_id=request.import_id,
                    contacts_considered=considered,
                    pairs_found=len(detection.pairs),
                    pairs_by_signal=detection.by_signal(),  # type: ignore[arg-type]
                    new_candidates=counts.new_candidates,
                    reopened=counts.reopened,
                    obsoleted=counts.obsoleted,
                    duration_ms=int((time.perf_counter() - started) * 1000),
                )
                await publish(session, result)
        finally:
            await queries.unlock_account_runs(lock_session, request.account_id)
    metrics.observe_scan(result, detection.evaluated, time.perf_counter() - started)
    log.info(
        "dedup_scan_completed",
        mode=request.mode,
        trigger=request.trigger,
        import_id=request.import_id,
        pairs_found=result.pairs_found,
        new_candidates=result.new_candidates,
        obsoleted=result.obsoleted,
        duration_ms=result.duration_ms,
    )
    return result


async def _read(
    sessions: async_sessionmaker[AsyncSession], request: ScanRequest
) -> tuple[list[int] | None, AccountSnapshot]:
    """Q (incremental) and the account snapshot, from one REPEATABLE READ snapshot."""
    async with sessions() as session:
        await session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
        focus: list[int] | None = None
        if request.import_id is not None:
            focus = await queries.focus_contacts(session, request.account_id, request.import_id)
            if not focus:
                return focus, AccountSnapshot(names=NameSets((), (), 0))
        snapshot = await queries.read_snapshot(session, request.account_id, focus)
        await session.rollback()
    return focus, snapshot
