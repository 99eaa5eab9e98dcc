"""kill -9 of the importer process during the misc phase (importer.md §10 Resume).

The phase's advisory lock dies with the killed process's connection, so the next process takes
the phase over as soon as the follow-up is redelivered (the consumer's ack_wait), from the
checkpoint, without waiting for the recorded lease to go stale: the test pushes that lease an
hour into the future before the second process starts.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.accounts import create_account
from kith_common.db.models import Call, Gift, Import, ImportRecord, Pet, Task
from kith_common.ports import free_port
from kith_common.testing import eventually
from kith_common.testing.bus import drop_streams
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, generate
from kith_importer.misc import queries
from kith_importer.testing import KEY, create

pytestmark = pytest.mark.slow
Sessions = async_sessionmaker[AsyncSession]


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Processes:
    """`kith serve importer` subprocesses of one test, stopped at its end."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.started: list[asyncio.subprocess.Process] = []

    async def start(self) -> asyncio.subprocess.Process:
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kith_common.cli.main",
            "serve",
            "importer",
            env=dict(self.env, KITH_METRICS_PORT=str(port)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self.started.append(proc)
        await eventually(lambda: _ready(port), timeout=60, what="importer ready")
        return proc

    async def stop(self) -> None:
        for proc in self.started:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


@pytest_asyncio.fixture(loop_scope="session")
async def processes(
    database_url: str, nats_url: str, stream_prefix: str
) -> AsyncIterator[Processes]:
    env = dict(
        os.environ,
        KITH_DATABASE_URL=database_url,
        KITH_NATS_URL=nats_url,
        KITH_STREAM_PREFIX=stream_prefix,
        KITH_SECRET_KEY=base64.urlsafe_b64encode(KEY).decode(),
        KITH_IMPORT_ALLOW_PRIVATE_HOSTS="true",
        KITH_MONICA_RATE_LIMIT_PER_MINUTE="0",
        KITH_SHUTDOWN_GRACE_SECONDS="2",
        KITH_LOG_FORMAT="console",
    )
    running = Processes(env)
    yield running
    await running.stop()
    await drop_streams(nats_url, stream_prefix)


async def _import_row(sessions: Sessions, import_id: int) -> Import:
    async with sessions() as session:
        row = await session.get(Import, import_id)
    assert row is not None
    return row


async def _counts(sessions: Sessions, account_id: int) -> dict[str, tuple[int, int]]:
    """Per type: (rows, distinct Monica ids recorded for them)."""
    out: dict[str, tuple[int, int]] = {}
    async with sessions() as session:
        for name, model in (("pet", Pet), ("call", Call), ("gift", Gift), ("task", Task)):
            rows = await session.scalar(select(func.count()).where(model.account_id == account_id))
            records = await session.scalar(
                select(func.count(func.distinct(ImportRecord.source_entity_id))).where(
                    ImportRecord.account_id == account_id, ImportRecord.source_entity_type == name
                )
            )
            out[name] = (int(rows or 0), int(records or 0))
    return out


async def test_kill_9_mid_misc_is_taken_over_at_redelivery_not_at_lease_expiry(
    processes: Processes, session_factory: Sessions
) -> None:
    world = generate(contacts=60, seed=31, misc_per_contact=2.0, notes_per_contact=0.2)
    fake = FakeMonica(world)
    victim: dict[str, Any] = {"pid": None}
    killed = threading.Event()

    def on_arrival(_: FakeMonica, path: str, query: str) -> None:
        # The phase is at its fourth type (pets, calls, activities written): kill it here.
        if path == "/api/gifts" and victim["pid"] is not None and not killed.is_set():
            os.kill(victim["pid"], signal.SIGKILL)
            killed.set()

    fake.on_arrival = on_arrival
    async with session_factory() as session, session.begin():
        account, user = await create_account(
            session, name="Misc kill", email=f"mk-{uuid.uuid4().hex[:10]}@example.com"
        )
    with FakeMonicaServer(fake) as server:
        first = await processes.start()
        victim["pid"] = first.pid
        import_id = await create(session_factory, (account.id, user.id), server.url)
        assert await asyncio.to_thread(killed.wait, 120)
        await first.wait()
        # The dead owner's lease looks fresh for another hour: only the lock can tell.
        async with session_factory() as session, session.begin():
            checkpoint = await queries.read_checkpoint(session, import_id)
            assert checkpoint is not None
            dead_owner = checkpoint["owner"]
            assert int(checkpoint["type"]) == 3  # gifts
            checkpoint["lease_at"] = time.time() + 3600
            await queries.write_checkpoint(
                session, account_id=account.id, import_id=import_id, payload=checkpoint
            )
        assert (await _import_row(session_factory, import_id)).misc_status == "processing"
        await processes.start()
        deadline = time.monotonic() + 120
        while (row := await _import_row(session_factory, import_id)).misc_status == "processing":
            assert time.monotonic() < deadline, row.summary
            await asyncio.sleep(0.2)
    assert row.misc_status == "completed", row.error
    assert dead_owner.split(":")[1] == str(first.pid)
    # Resumed from the checkpoint: the lists done before the kill were not fetched again.
    for done in ("/api/pets", "/api/calls", "/api/activities"):
        assert fake.count(done) == max(1, -(-len(world.items.get(done[5:], [])) // 100)), done
    # Nothing written twice; the summary's counts are the rows.
    counts = await _counts(session_factory, account.id)
    for name, (rows, records) in counts.items():
        assert rows == records, name
    misc = row.summary["misc"]
    assert (misc["pets"], misc["calls"], misc["gifts"], misc["tasks"]) == (
        counts["pet"][0],
        counts["call"][0],
        counts["gift"][0],
        counts["task"][0],
    )
    assert counts["gift"][0] > 0
