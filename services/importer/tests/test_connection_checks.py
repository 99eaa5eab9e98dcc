"""A flood of connection checks cannot pile up tasks or rows in the importer (issue #20)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import RateLimit
from kith_common.service import Runtime
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, Fault
from kith_importer.connection import BUSY
from kith_importer.sweeper import Sweeper
from kith_importer.testing import check_connection

Sessions = async_sessionmaker[AsyncSession]
BOUND = 8  # ImporterConfig.check_concurrency, the default the `importer` fixture keeps


async def _check(
    importer: Runtime, sessions: Sessions, account: tuple[int, int], url: str
) -> dict[str, Any]:
    return (await check_connection(importer, sessions, account, url, "test-token"))[1]


async def test_checks_beyond_the_bound_are_answered_busy_at_once(
    importer: Runtime,
    fake: FakeMonica,
    server: FakeMonicaServer,
    session_factory: Sessions,
    account: tuple[int, int],
) -> None:
    arrived = 0
    all_in = threading.Event()

    def watch(_: FakeMonica, path: str, __: str) -> None:
        nonlocal arrived
        if path == "/api/me":
            arrived += 1
            if arrived == BOUND:
                all_in.set()

    fake.on_arrival = watch
    fake.add_fault(Fault("/api/me", kind="slow", delay=2.0, times=None))
    held = [
        asyncio.create_task(_check(importer, session_factory, account, server.url))
        for _ in range(BOUND)
    ]
    assert await asyncio.to_thread(all_in.wait, 15)
    extra = await _check(importer, session_factory, account, server.url)
    assert extra == BUSY.model_dump()
    answers = await asyncio.gather(*held)
    assert [a["code"] for a in answers] == ["ok"] * BOUND  # each one still answered
    assert arrived == BOUND  # the refused check never reached Monica


async def test_the_sweeper_prunes_rate_limit_rows_idle_past_their_window(
    session_factory: Sessions,
) -> None:
    tag = uuid.uuid4().hex
    now = dt.datetime.now(dt.UTC)
    rows = {
        f"monica:idle:{tag}": (now - dt.timedelta(hours=2), None),
        f"gateway:check:busy:{tag}": (now + dt.timedelta(seconds=30), None),
        f"monica:blocked:{tag}": (now - dt.timedelta(hours=2), now + dt.timedelta(minutes=5)),
    }
    async with session_factory() as session, session.begin():
        for key, (tat, blocked) in rows.items():
            session.add(RateLimit(key=key, tat=tat, blocked_until=blocked))
    await Sweeper(session_factory, key_ttl_hours=24).sweep_once()
    async with session_factory() as session:
        left = set(await session.scalars(select(RateLimit.key).where(RateLimit.key.contains(tag))))
    assert left == {f"gateway:check:busy:{tag}", f"monica:blocked:{tag}"}
