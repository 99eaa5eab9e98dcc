"""The importer as real processes (`kith serve importer`): kill -9 mid-crawl, and two importers
plus photo traffic sharing one Monica rate limit (importer.md §15 items 30 and 33).

The fake Monica runs in this test process; PostgreSQL and NATS are the session's servers (never
stopped here); each importer is a subprocess configured through KITH_* variables.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
import threading
import urllib.request
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.accounts import create_account
from kith_common.monica.client import MonicaClient, origin_of
from kith_common.monica.ratelimit import RateLimiter, bucket_key
from kith_common.ports import free_port
from kith_common.testing import eventually
from kith_common.testing.bus import drop_streams
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, World, generate
from kith_importer.testing import KEY, create, snapshot, wait_for

pytestmark = pytest.mark.slow
Sessions = async_sessionmaker[AsyncSession]


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Importer:
    """One `kith serve importer` subprocess."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Importer:
        port = free_port()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kith_common.cli.main",
            "serve",
            "importer",
            env=dict(self.env, KITH_METRICS_PORT=str(port)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await eventually(lambda: _ready(port), timeout=60, what="importer ready")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def wait_killed(self) -> None:
        assert self.proc is not None
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class Fleet:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.started: list[Importer] = []

    async def start(self, **extra: str) -> Importer:
        importer = Importer(dict(self.env, **extra))
        self.started.append(importer)
        return await importer.start()


@pytest_asyncio.fixture(loop_scope="session")
async def fleet(database_url: str, nats_url: str, stream_prefix: str) -> AsyncIterator[Fleet]:
    env = dict(
        os.environ,
        KITH_DATABASE_URL=database_url,
        KITH_NATS_URL=nats_url,
        KITH_STREAM_PREFIX=stream_prefix,
        # urlsafe base64 of 32 bytes is used as the AES key as is: the tests encrypt with KEY
        KITH_SECRET_KEY=base64.urlsafe_b64encode(KEY).decode(),
        KITH_IMPORT_ALLOW_PRIVATE_HOSTS="true",
        KITH_MONICA_RATE_LIMIT_PER_MINUTE="0",
        KITH_SHUTDOWN_GRACE_SECONDS="2",
        KITH_LOG_FORMAT="console",
    )
    built = Fleet(env)
    yield built
    for importer in built.started:
        await importer.stop()
    await drop_streams(nats_url, stream_prefix)


async def _account(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        account, user = await create_account(
            session, name="Proc", email=f"proc-{uuid.uuid4().hex[:10]}@example.com"
        )
    return account.id, user.id


def _world() -> World:
    return generate(
        contacts=250,
        seed=23,
        partial_ratio=0.04,
        inactive_ratio=0.02,
        duplicate_ratio=0.04,
        notes_per_contact=0.6,
        relationship_ratio=0.2,
    )


async def test_kill_9_at_several_points_ends_like_an_uninterrupted_run(
    fleet: Fleet, session_factory: Sessions
) -> None:
    # Reference: one uninterrupted run.
    reference_fake = FakeMonica(_world())
    reference_account = await _account(session_factory)
    first = await fleet.start()
    with FakeMonicaServer(reference_fake) as server:
        ref_id = await create(session_factory, reference_account, server.url)
        reference = await wait_for(session_factory, ref_id, timeout=180)
    assert reference.status == "completed"
    await first.stop()

    # The same world, killed in the listing (page 2), the notes and the backfill.
    kill_at = [
        lambda path, query: path == "/api/contacts" and "page=2" in query,  # listing
        lambda path, query: path == "/api/notes",  # notes
        # the backfill's first re-listing window (a page at another limit than the listing's)
        lambda path, query: path == "/api/contacts" and "limit=100&" not in query + "&",
    ]
    victim: dict[str, Any] = {"importer": None}
    killed = threading.Event()

    def on_arrival(_: FakeMonica, path: str, query: str) -> None:
        if kill_at and victim["importer"] is not None and kill_at[0](path, query):
            kill_at.pop(0)
            os.kill(victim["importer"].pid, signal.SIGKILL)
            killed.set()

    fake = FakeMonica(_world())
    assert fake.expected_unlisted(100), "the world must make the backfill run"
    fake.on_arrival = on_arrival
    account = await _account(session_factory)
    with FakeMonicaServer(fake) as server:
        victim["importer"] = await fleet.start()
        import_id = await create(session_factory, account, server.url)
        for _ in range(3):
            assert await asyncio.to_thread(killed.wait, 120)
            killed.clear()
            await victim["importer"].wait_killed()
            victim["importer"] = await fleet.start()
        row = await wait_for(session_factory, import_id, timeout=180)
    assert kill_at == []
    assert row.status == "completed", row.error
    assert await snapshot(session_factory, account[0]) == await snapshot(
        session_factory, reference_account[0]
    )
    for key in (
        "contacts",
        "created",
        "notes",
        "merged",
        "relationships",
        "skipped",
        "error_count",
    ):
        assert row.summary[key] == reference.summary[key], key
    for key in ("gap_detected", "imported_full", "imported_partial", "unresolved_gap"):
        assert row.summary["coverage_backfill"][key] == reference.summary["coverage_backfill"][key]


async def test_two_importers_and_photo_traffic_share_the_monica_rate_limit(
    fleet: Fleet, session_factory: Sessions
) -> None:
    # Scaled down so the test takes seconds: the fake allows 6 requests per 2 s window per
    # Monica user; every client takes 5 per 2 s (the default is 60 vs 55 per minute).
    window, fake_limit, client_limit = 2.0, 6, 5
    world = generate(contacts=60, seed=5, notes_per_contact=0.5, photos=30)
    fake = FakeMonica(world, rate_limit=fake_limit, rate_window=window)
    limited = {
        "KITH_MONICA_RATE_LIMIT_PER_MINUTE": str(client_limit),
        "KITH_MONICA_RATE_LIMIT_WINDOW_SECONDS": str(window),
    }
    await asyncio.gather(fleet.start(**limited), fleet.start(**limited))
    accounts = [await _account(session_factory), await _account(session_factory)]
    with FakeMonicaServer(fake) as server:
        ids = [await create(session_factory, acc, server.url) for acc in accounts]
        limiter = RateLimiter(
            session_factory,
            bucket_key(origin_of(server.url + "/api"), "test-token"),
            per_window=client_limit,
            window_seconds=window,
        )
        async with MonicaClient(
            server.url, "test-token", limiter=limiter, allow_private=True
        ) as photos:
            for page in range(1, 7):  # photo traffic of the same Monica user
                await photos.page("/photos", page=page, limit=5)
        rows = [await wait_for(session_factory, i, timeout=120) for i in ids]
    assert [r.status for r in rows] == ["completed", "completed"]
    assert fake.stats()["too_many"] == 0
    stamps = sorted(entry.at for entry in fake.log)
    assert len(stamps) > 3 * fake_limit
    busiest = max(sum(1 for t in stamps if start <= t < start + window) for start in stamps)
    assert busiest <= fake_limit
