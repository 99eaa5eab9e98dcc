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
from kith_dedup.evidence import Judgement, judge_pairs, stats_of

__all__ = ["SMALL_FOCUS", "ScanRequest", "run_scan"]

log = structlog.get_logger(__name__)

UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Publish = Callable[[AsyncSession, DedupScanCompleted], Awaitable[None]]


# Up to this many focus contacts, their name pairs come from the trigram index instead of
# the account's whole trigram read (an edited contact: a few ms instead of ~1 s at 100k).
SMALL_FOCUS = 64


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """What to scan: the whole account, the contacts of one import, or contacts just changed.

    `contact_ids`: contacts changed through the API (coalesced contact.* events); their
    pending pairs are judged again, since their evidence moved.
    """

    scan_id: uuid.UUID
    account_id: int
    trigger: ScanTrigger
    import_id: int | None = None
    contact_ids: tuple[int, ...] | None = None

    @property
    def mode(self) -> Literal["full", "incremental"]:
        if self.import_id is None and self.contact_ids is None:
            return "full"
        return "incremental"


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
            # Pairs a run may obsolete: those touching Q, or every changed contact, deleted
            # ones included (their pending pairs become obsolete at once).
            scope = list(request.contact_ids) if request.contact_ids is not None else focus
            await heartbeat()
            if focus is not None and not focus:
                detection = Detection()
            else:
                detection = await asyncio.to_thread(detect, snapshot, focus)
            await heartbeat()
            judged, rates = await _judge(sessions, request.account_id, snapshot, detection)
            await heartbeat()
            async with unit_of_work() as session:
                counts = await queries.write_results(
                    session,
                    request.account_id,
                    list(detection.pairs.values()),
                    scope,
                    judged,
                    rejudge=request.contact_ids is not None,
                )
                if focus is None:
                    await queries.save_full_run(
                        session, request.account_id, snapshot.names.contacts, rates
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
        elif request.contact_ids is not None:
            focus = await queries.live_contacts(session, request.account_id, request.contact_ids)
        if focus is not None and not focus:
            return focus, AccountSnapshot(names=NameSets((), (), 0))
        names = None
        if focus is not None and len(focus) <= SMALL_FOCUS:
            names = await queries.focus_name_pairs(session, request.account_id, focus)
        snapshot = await queries.read_snapshot(session, request.account_id, focus, names=names)
        await session.rollback()
    return focus, snapshot


async def _judge(
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
    snapshot: AccountSnapshot,
    detection: Detection,
) -> tuple[dict[tuple[int, int], Judgement], dict[str, float] | None]:
    """Confidence and evidence of every found pair (kith_dedup.evidence).

    A first full run has every profile from its snapshot and counts term frequencies and
    agreement rates on them (the rates are returned, to be kept). Other runs judge only the
    pairs not judged yet (a rescan: the few new ones; an incremental run: all of its own),
    reading those pairs' profiles and the account-wide counts of their values.
    """
    pairs = [(pair, "name_match" in found.reasons) for pair, found in detection.pairs.items()]
    if not pairs:
        return {}, None
    if snapshot.profiles is not None:
        profiles = snapshot.profiles
        stats = stats_of(profiles)
        return await asyncio.to_thread(judge_pairs, pairs, profiles, stats, count_rates=True)
    judged = snapshot.judged
    ids = sorted({cid for pair in detection.pairs if pair not in judged for cid in pair})
    if not ids:
        return {}, None
    async with sessions() as session:
        await session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
        profiles = await queries.read_profiles(session, account_id, ids)
        stats = await queries.read_stats(session, account_id, profiles)
        await session.rollback()
    found, _ = await asyncio.to_thread(judge_pairs, pairs, profiles, stats, skip=judged)
    return found, None
