"""The misc phase shares the crawl's rate-limit bucket (importer.md §5, §8): no 429 together."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.accounts import create_account
from kith_common.db.models import Import
from kith_common.testing.bus import Harness
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, World, generate
from kith_importer.app import build_app
from kith_importer.config import ImporterConfig
from kith_importer.testing import KEY, create, progress_events

Sessions = async_sessionmaker[AsyncSession]
# Monica allows 60 per minute and Kith takes 55; scaled down: 6 vs 5 per 2 s window.
LIMIT, FAKE_LIMIT, WINDOW = 5, 6, 2.0


@pytest.fixture
def world() -> World:
    w = generate(contacts=30, seed=8, misc_per_contact=3.0, notes_per_contact=0.0)
    return w


@pytest.fixture
def fake(world: World) -> FakeMonica:
    return FakeMonica(world, rate_limit=FAKE_LIMIT, rate_window=WINDOW)


async def _all_done(sessions: Sessions, ids: list[int]) -> list[Import]:
    deadline = time.monotonic() + 120
    while True:
        async with sessions() as session:
            rows = [await session.get(Import, i) for i in ids]
        if all(r is not None and r.misc_status in ("completed", "failed") for r in rows):
            return [r for r in rows if r is not None]
        assert time.monotonic() < deadline, [(r.status, r.misc_status) for r in rows if r]
        await asyncio.sleep(0.2)


async def test_a_crawl_and_a_misc_phase_on_one_key_never_get_a_429(
    harness: Harness,
    fake: FakeMonica,
    server: FakeMonicaServer,
    session_factory: Sessions,
    account: tuple[int, int],
) -> None:
    settings = harness.settings(
        import_allow_private_hosts=True,
        monica_rate_limit_per_minute=LIMIT,
        monica_rate_limit_window_seconds=WINDOW,
    )
    config = ImporterConfig.from_settings(
        settings, max_deliver=3, nack_delays=(0.2,), encryption_key=KEY
    )
    runtime = build_app(settings, config)
    harness.runtimes.append(runtime)
    await runtime.start()
    async with session_factory() as session, session.begin():
        other, user = await create_account(
            session, name="Second", email=f"imp-{uuid.uuid4().hex[:10]}@example.com"
        )
    first = await create(session_factory, account, server.url, options={"notes": False})
    # The second account's crawl starts once the first's misc phase is under way, on the same
    # Monica key: both draw from one bucket.
    deadline = time.monotonic() + 60
    while True:
        async with session_factory() as session:
            row: Any = await session.get(Import, first)
        if row.misc_status == "processing":
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    second = await create(
        session_factory, (other.id, user.id), server.url, options={"notes": False}
    )
    rows = await _all_done(session_factory, [first, second])
    assert [r.misc_status for r in rows] == ["completed", "completed"]
    assert fake.stats()["too_many"] == 0
    assert fake.count("/api/contacts") >= 2  # both crawls ran
    # The crawl's progress carries its requests and the time they take at 5 per 2 s.
    events = await progress_events(session_factory, account[0])
    crawl = [e for e in events if e["phase"] != "misc"]
    assert all(e["current"] <= (e["total"] or e["current"]) for e in crawl)
    for e in crawl:
        left = e["requests_estimated"] - e["requests_done"]
        assert left >= 0
        assert e["eta_seconds"] == round(left * WINDOW / LIMIT, 1)
    assert max(e["eta_seconds"] for e in crawl) > 0
    assert crawl[-1]["requests_done"] == rows[0].summary["requests"]
    assert crawl[-1]["eta_seconds"] == 0
    misc = [e for e in events if e["phase"] == "misc"]
    assert misc[0]["eta_seconds"] == round(10 * WINDOW / LIMIT, 1)  # ten types, a page each
    assert all(e["requests_done"] is not None for e in misc)
