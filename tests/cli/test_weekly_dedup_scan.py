"""`kith admin dedup-scan --all-accounts` twice in one week scans each account once (dedup.md §3.5).

The weekly command's envelope id is uuid5(account, ISO week): a rerun is not queued while the
first command is still in the outbox, and once the outbox janitor has pruned it, the re-queued
command is dropped by JetStream's duplicate window or the dedup consumer's inbox. Real NATS
and PostgreSQL, the real dedup runtime on the test's stream prefix.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import nats
import pytest_asyncio
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kith_common.cli.commands import publish_scans_for_all_accounts, weekly_scan_id
from kith_common.db.models import DuplicateCandidate, Inbox, Outbox
from kith_common.db.session import create_engine
from kith_common.dedup.testing import new_account
from kith_common.events.subjects import DEDUP_SCAN_COMPLETED
from kith_common.service import Runtime
from kith_common.testing import eventually
from kith_common.testing.bus import Harness, drop_streams
from kith_dedup.app import build_app

Sessions = async_sessionmaker[AsyncSession]


def test_weekly_id_is_stable_within_an_iso_week_and_changes_across() -> None:
    monday = dt.datetime(2026, 11, 23, 0, 0, tzinfo=dt.UTC)
    sunday_night = dt.datetime(2026, 11, 29, 23, 59, 59, tzinfo=dt.UTC)
    next_monday = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)
    assert weekly_scan_id(7, monday) == weekly_scan_id(7, sunday_night)
    assert weekly_scan_id(7, sunday_night) != weekly_scan_id(7, next_monday)
    assert weekly_scan_id(7, monday) != weekly_scan_id(8, monday)
    # the ISO week is the UTC one: Monday 01:00 in Paris is still Sunday in UTC
    paris = dt.timezone(dt.timedelta(hours=1))
    assert weekly_scan_id(7, dt.datetime(2026, 11, 30, 0, 30, tzinfo=paris)) == weekly_scan_id(
        7, sunday_night
    )
    assert weekly_scan_id(7, monday, "t1") != weekly_scan_id(7, monday)


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(own_database_url: str) -> str:
    """This module's tests queue a scan for every account: a database of their own keeps
    "every account" to the accounts they made, not the whole suite's."""
    return own_database_url


@pytest_asyncio.fixture(loop_scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    created = create_engine(database_url)
    try:
        yield created
    finally:
        await created.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def dedup(database_url: str, nats_url: str, stream_prefix: str) -> AsyncIterator[Runtime]:
    harness = Harness(database_url, nats_url, stream_prefix)
    runtime = build_app(harness.settings())
    await runtime.start()
    yield runtime
    await runtime.stop()
    await drop_streams(nats_url, stream_prefix)


async def _scans_completed(sessions: Sessions, account_id: int) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).where(
                    Outbox.account_id == account_id, Outbox.subject == DEDUP_SCAN_COMPLETED
                )
            )
            or 0
        )


async def _all_sent(sessions: Sessions, ids: list[uuid.UUID]) -> bool:
    async with sessions() as session:
        sent = await session.scalar(
            select(func.count()).where(Outbox.id.in_(ids), Outbox.sent_at.is_not(None))
        )
    return sent == len(ids)


async def _consumer_idle(nats_url: str, stream_prefix: str) -> bool:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(f"{stream_prefix}_KITH_CMD", "dedup-scan")
    finally:
        await nc.close()
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_dedup_scan_twice_in_one_week_scans_each_account_once(
    dedup: Runtime, session_factory: Sessions, nats_url: str, stream_prefix: str
) -> None:
    async with session_factory() as session, session.begin():
        one, two = await new_account(session), await new_account(session)
        await one.named("John Smith")
        await one.named("John Smithe")
        await two.named("Jane Doe")
        await two.named("Jane Doee")
    ours = [one.account_id, two.account_id]
    week_ids = [weekly_scan_id(a, dt.datetime.now(dt.UTC), stream_prefix) for a in ours]

    assert await publish_scans_for_all_accounts(session_factory) == 2  # every account
    assert await publish_scans_for_all_accounts(session_factory) == 0  # same week: none
    for account_id in ours:
        await eventually(lambda a=account_id: _scans_completed(session_factory, a), timeout=60)

    # The janitor prunes sent outbox rows after a while; a rerun then queues the same ids
    # again, and the bus must drop them.
    async with session_factory() as session, session.begin():
        await session.execute(delete(Outbox).where(Outbox.id.in_(week_ids)))
    assert await publish_scans_for_all_accounts(session_factory) == 2
    await eventually(lambda: _all_sent(session_factory, week_ids), timeout=60)
    await eventually(lambda: _consumer_idle(nats_url, stream_prefix), timeout=120)

    for account_id in ours:
        assert await _scans_completed(session_factory, account_id) == 1
    async with session_factory() as session:
        handled = await session.scalars(
            select(Inbox.message_id).where(
                Inbox.consumer == "dedup-scan", Inbox.message_id.in_(week_ids)
            )
        )
        assert sorted(handled) == sorted(week_ids)
        pairs = await session.scalars(
            select(DuplicateCandidate.account_id).where(DuplicateCandidate.account_id.in_(ours))
        )
        assert sorted(pairs) == sorted(ours)
