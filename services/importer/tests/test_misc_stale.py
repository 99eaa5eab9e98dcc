"""Stale follow-ups (importer.md §10): a cancelled misc phase or an old generation write nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence
from kith_common.bus import outbox
from kith_common.db.models import Import, Inbox, Pet
from kith_common.events import subjects
from kith_common.events.payloads.imports import ImportCompleted, ImportCounts, ImportOptions
from kith_common.events.registry import build_envelope
from kith_common.testing.fake_monica import World

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def world() -> World:
    w = World(seed=4)
    w.add_user("test-token")
    w.add_contact(id=1, first_name="Ann", last_name="Lee", created_at="2021-01-01T00:00:00Z")
    w.add_item(
        "pets",
        name="Rex",
        pet_category={"name": "dog"},
        contact_id=1,
        created_at="2023-01-01T00:00:00Z",
    )
    return w


async def _misc_done(sessions: Sessions, import_id: int) -> Import:
    deadline = time.monotonic() + 60
    while True:
        async with sessions() as session:
            row = await session.get(Import, import_id)
        assert row is not None
        if row.misc_status in ("completed", "failed", "cancelled"):
            return row
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


async def _pets(sessions: Sessions, account_id: int) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).where(Pet.account_id == account_id)) or 0
        )


async def test_cancelled_or_stale_generation_follow_ups_write_nothing(
    run_import: Any, session_factory: Sessions, account: tuple[int, int]
) -> None:
    row = await _misc_done(session_factory, (await run_import()).id)
    assert row.misc_status == "completed"
    assert await _pets(session_factory, account[0]) == 1
    event = ImportCompleted(
        import_id=row.id, source="monica_api", options=ImportOptions(), counts=ImportCounts()
    )
    async with session_factory() as session, session.begin():
        await session.execute(delete(Pet).where(Pet.account_id == account[0]))
        # Stale generation: the phase would run (pending) if the fence let it through; with
        # no key it would fail, so an unchanged `pending` shows it did nothing.
        await session.execute(
            update(Import).where(Import.id == row.id).values(misc_status="pending")
        )
        old = await fence.hold(session, account[0], None)
    async with session_factory() as session, session.begin():
        await fence.bump(session, account[0])
    stale = build_envelope(subjects.IMPORT_COMPLETED, event, account_id=account[0], generation=old)
    async with session_factory() as session, session.begin():
        await outbox.add(session, subjects.IMPORT_COMPLETED, stale)
    # A cancelled phase, current generation: acked (inbox row) with no effect.
    async with session_factory() as session, session.begin():
        await session.execute(
            update(Import).where(Import.id == row.id).values(misc_status="cancelled")
        )
        current = await fence.hold(session, account[0], None)
        cancelled = build_envelope(
            subjects.IMPORT_COMPLETED, event, account_id=account[0], generation=current
        )
        await outbox.add(session, subjects.IMPORT_COMPLETED, cancelled)
    deadline = time.monotonic() + 30
    while True:
        async with session_factory() as session:
            seen = await session.scalar(
                select(Inbox.message_id).where(
                    Inbox.consumer.like("%importer-misc"), Inbox.message_id == cancelled.id
                )
            )
        if seen is not None:
            break
        assert time.monotonic() < deadline, "the cancelled follow-up was never consumed"
        await asyncio.sleep(0.1)
    assert await _pets(session_factory, account[0]) == 0
    async with session_factory() as session:
        stale_seen = await session.scalar(
            select(Inbox.message_id).where(Inbox.message_id == stale.id)
        )
    assert stale_seen is None  # the fenced delivery rolled back: not even an inbox row
    async with session_factory() as session:
        after = await session.get(Import, row.id)
    assert after is not None
    assert after.misc_status == "cancelled"


async def test_a_cancel_during_the_misc_phase_ends_it_cancelled_with_its_counts(
    harness: Any, server: Any, session_factory: Sessions, account: tuple[int, int]
) -> None:
    from kith_common import imports
    from kith_common.db.models import Outbox
    from kith_importer.app import build_app
    from kith_importer.config import ImporterConfig
    from kith_importer.testing import KEY, create

    # 3 requests per second: the ten misc lists take a few seconds, time to cancel midway.
    settings = harness.settings(
        import_allow_private_hosts=True,
        monica_rate_limit_per_minute=3,
        monica_rate_limit_window_seconds=1.0,
    )
    runtime = build_app(
        settings,
        ImporterConfig.from_settings(
            settings, max_deliver=3, nack_delays=(0.2,), encryption_key=KEY
        ),
    )
    harness.runtimes.append(runtime)
    await runtime.start()
    import_id = await create(session_factory, account, server.url, options={"notes": False})
    deadline = time.monotonic() + 60
    while True:
        async with session_factory() as session:
            row = await session.get(Import, import_id)
        assert row is not None
        if row.misc_status == "processing" and "misc" in row.summary:
            break  # at least one misc page is written
        assert time.monotonic() < deadline, (row.status, row.misc_status)
        await asyncio.sleep(0.05)
    async with session_factory() as session, session.begin():
        await imports.request_cancel(session, account_id=account[0], import_id=import_id)
    row = await _misc_done(session_factory, import_id)
    assert row.misc_status == "cancelled"
    assert row.summary["misc"]["status"] == "cancelled"
    assert row.api_key_encrypted is None
    async with session_factory() as session:
        event = await session.scalar(
            select(Outbox.envelope).where(
                Outbox.account_id == account[0], Outbox.subject == subjects.IMPORT_CANCELLED
            )
        )
        done = await session.scalar(
            select(Outbox.envelope).where(
                Outbox.account_id == account[0], Outbox.subject == subjects.IMPORT_MISC_COMPLETED
            )
        )
    assert event is not None
    assert event["data"]["cancelled_in_phase"] == "misc"
    assert done is None  # never completed
