"""Who runs the misc phase (importer.md §8, §10 Resume): a session-level advisory lock held for
the run. A dead owner's lock is free at once; a live owner's is never taken, however old the
checkpoint's lease looks.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kith_common import fence
from kith_common.bus import outbox
from kith_common.db.models import Import, ImportStaging
from kith_common.events import subjects
from kith_common.events.payloads.imports import ImportCompleted, ImportCounts, ImportOptions
from kith_common.events.registry import build_envelope
from kith_common.metrics import REGISTRY
from kith_common.testing.fake_monica import FakeMonica
from kith_importer.misc import queries
from kith_importer.misc.lease import PhaseLock

Sessions = async_sessionmaker[AsyncSession]
GHOST = "gone-host:1:deadbeef"


def _engine(sessions: Sessions) -> AsyncEngine:
    engine = sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return engine


async def test_the_lock_is_exclusive_and_freed_when_its_connection_dies(
    session_factory: Sessions,
) -> None:
    engine = _engine(session_factory)
    first, second = PhaseLock(engine, 987_654), PhaseLock(engine, 987_654)
    assert await first.acquire()
    assert not await second.acquire()  # a live holder keeps it
    other = PhaseLock(engine, 987_655)
    assert await other.acquire()  # other imports are independent
    await other.release()
    # The holder's process dies: its backend ends, and PostgreSQL frees the lock with it.
    assert first._conn is not None
    pid = await first._conn.scalar(select(func.pg_backend_pid()))
    async with engine.connect() as admin:
        await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await admin.commit()
    async with engine.connect() as probe:
        while await probe.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ):
            await asyncio.sleep(0.05)
    assert await second.acquire()
    await first.release()  # a broken connection: release is quiet, and frees nothing of others
    assert not await PhaseLock(engine, 987_654).acquire()
    await second.release()
    assert await first.acquire()
    await first.release()


def _retried() -> float:
    labels = {"consumer": "importer-misc", "outcome": "retried"}
    return REGISTRY.get_sample_value("kith_bus_messages_handled_total", labels) or 0.0


async def _misc_status(sessions: Sessions, import_id: int) -> str | None:
    async with sessions() as session:
        row = await session.get(Import, import_id)
    assert row is not None
    return row.misc_status


async def test_a_live_holder_is_never_taken_over_even_with_an_ancient_lease(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    # photos on: the media phase (no photos service here) keeps the key for a second misc run.
    row = await run_import(options={"photos": True})
    deadline = time.monotonic() + 60
    while await _misc_status(session_factory, row.id) != "completed":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    # Another process holds the phase; its checkpoint's lease is long stale.
    holder = PhaseLock(_engine(session_factory), row.id)
    assert await holder.acquire()
    async with session_factory() as session, session.begin():
        await session.execute(
            update(Import).where(Import.id == row.id).values(misc_status="processing")
        )
        await queries.write_checkpoint(
            session,
            account_id=account[0],
            import_id=row.id,
            payload={"type": 0, "page": 1, "tally": {}, "seen": [], "owner": GHOST, "lease_at": 0},
        )
        generation = await fence.hold(session, account[0], None)
        event = ImportCompleted(
            import_id=row.id, source="monica_api", options=ImportOptions(), counts=ImportCounts()
        )
        envelope = build_envelope(
            subjects.IMPORT_COMPLETED, event, account_id=account[0], generation=generation
        )
        await outbox.add(session, subjects.IMPORT_COMPLETED, envelope)
    fake.reset_stats()
    before = _retried()
    deadline = time.monotonic() + 30
    while _retried() <= before:
        assert time.monotonic() < deadline, "the redelivered follow-up was never handled"
        await asyncio.sleep(0.05)
    # Backed off: not a request, not a write, the checkpoint still the holder's.
    assert fake.stats()["total"] == 0
    async with session_factory() as session:
        checkpoint = await queries.read_checkpoint(session, row.id)
    assert checkpoint is not None
    assert checkpoint["owner"] == GHOST
    assert await _misc_status(session_factory, row.id) == "processing"
    # The holder goes away: the retry takes the phase over and finishes it.
    await holder.release()
    deadline = time.monotonic() + 60
    while await _misc_status(session_factory, row.id) != "completed":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert fake.count("/api/pets") == 1
    async with session_factory() as session:
        left = await session.scalar(
            select(func.count()).where(
                ImportStaging.import_id == row.id, ImportStaging.kind == queries.STAGING_KIND
            )
        )
    assert left == 0
