"""`kill -9` of the reset service mid-reset (reset.md §10 Faults), with real subprocesses.

`kith serve reset` runs with env settings (batch size 10). The process is killed with
SIGKILL while a domain consumer is between committed batches, and, separately, while the
orchestrator waits for an import to stop. A restarted process gets the unacked message after
`ack_wait` (60 s, reset.md §7) and the reset completes with the same end state: exact
counts, one audit row, generation +1 in total.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence, resets
from kith_common.accounts import create_account
from kith_common.db.models import AuditLog, Import, Note, User
from kith_common.ports import free_port
from kith_common.storage import LocalStorage
from kith_common.testing import eventually
from kith_common.testing.bus import drop_streams
from kith_reset.testing import seed_account

pytestmark = pytest.mark.slow
Sessions = async_sessionmaker[AsyncSession]
REDELIVERY_WAIT = 150  # ack_wait 60 s + start-up + the rest of the reset


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class ResetProcess:
    """One `kith serve reset` subprocess on the test's stream prefix."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        port = free_port()
        env = dict(self.env, KITH_METRICS_PORT=str(port))
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kith_common.cli.main",
            "serve",
            "reset",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await eventually(lambda: _ready(port), timeout=60, what="reset service ready")

    async def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class Service:
    """The reset service of one test: its settings, storage, and the processes started."""

    def __init__(self, env: dict[str, str], storage: Path) -> None:
        self.env = env
        self.storage = LocalStorage(storage)
        self.processes: list[ResetProcess] = []

    async def start(self) -> ResetProcess:
        process = ResetProcess(self.env)
        self.processes.append(process)
        await process.start()
        return process


@pytest_asyncio.fixture(loop_scope="session")
async def service(
    database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path
) -> AsyncIterator[Service]:
    storage = tmp_path / "storage"
    storage.mkdir()
    env = dict(
        os.environ,
        KITH_DATABASE_URL=database_url,
        KITH_NATS_URL=nats_url,
        KITH_STREAM_PREFIX=stream_prefix,
        KITH_STORAGE_URL=f"file://{storage}",
        KITH_SECRET_KEY="test-secret-key-that-is-long-enough-0123456789",
        KITH_RESET_BATCH_SIZE="10",
        KITH_SHUTDOWN_GRACE_SECONDS="2",
        KITH_LOG_FORMAT="console",
    )
    built = Service(env, storage)
    yield built
    for process in built.processes:
        await process.stop()
    await drop_streams(nats_url, stream_prefix)


async def _account(sessions: Sessions) -> tuple[int, User]:
    async with sessions() as session, session.begin():
        account, user = await create_account(
            session, name="Kill test", email=f"kill-{uuid.uuid4().hex[:10]}@example.com"
        )
    return account.id, user


async def _admit(sessions: Sessions, account_id: int, user: User) -> resets.Admission:
    async with sessions() as session, session.begin():
        return await resets.admit(
            session, account_id=account_id, user=user, correlation_id=uuid.uuid4()
        )


async def _view(sessions: Sessions, account_id: int, reset_id: int) -> resets.ResetView:
    async with sessions() as session:
        return await resets.get_reset(session, account_id, reset_id)


async def _finished(sessions: Sessions, account_id: int, admission: resets.Admission) -> Any:
    async def done() -> resets.ResetView | None:
        view = await _view(sessions, account_id, admission.reset_id)
        return view if view.status == "completed" else None

    return await eventually(done, timeout=REDELIVERY_WAIT, interval=0.5)


async def test_reset_killed_mid_domain_resumes_after_restart_with_exact_counts(
    service: Service, session_factory: Sessions
) -> None:
    account_id, user = await _account(session_factory)
    notes = 3000
    async with session_factory() as session, session.begin():
        seeded = await seed_account(session, account_id, user.id, storage=service.storage)
        contact = await session.scalar(
            text("SELECT min(id) FROM contacts WHERE account_id = :a"), {"a": account_id}
        )
        await session.execute(
            insert(Note),
            [
                {"account_id": account_id, "contact_id": contact, "body": f"n{i}"}
                for i in range(notes)
            ],
        )
    first = await service.start()
    admission = await _admit(session_factory, account_id, user)

    async def notes_half_done() -> bool:
        view = await _view(session_factory, account_id, admission.reset_id)
        row = next(d for d in view.domains if d.domain == "notes")
        return row.status == "running" and 0 < row.counts.get("notes", 0) < notes

    await eventually(notes_half_done, timeout=60, interval=0.02)
    await first.kill9()
    killed_at = await _view(session_factory, account_id, admission.reset_id)
    assert killed_at.status == "running"

    await service.start()
    view = await _finished(session_factory, account_id, admission)
    counts = {d.domain: d.counts for d in view.domains}
    assert counts["notes"] == {"notes": notes + seeded["notes"]}
    assert counts["contacts"]["contacts"] == seeded["contacts"]
    async with session_factory() as session:
        audits = await session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.account_id == account_id)
        )
        left = await session.scalar(
            select(func.count()).select_from(Note).where(Note.account_id == account_id)
        )
    assert (audits, left) == (1, 0)


async def test_orchestrator_killed_during_the_import_wait_resumes_with_one_bump(
    service: Service, session_factory: Sessions
) -> None:
    account_id, user = await _account(session_factory)
    async with session_factory() as session, session.begin():
        await seed_account(session, account_id, user.id, storage=service.storage)
        crawl = Import(
            account_id=account_id,
            source="monica_api",
            generation=1,
            status="processing",
            api_key_encrypted=b"\x01" * 32,
            heartbeat_at=dt.datetime.now(dt.UTC),
        )
        session.add(crawl)
        await session.flush()
        crawl_id = crawl.id
        before = await fence.current_generation(session, account_id)
    assert before is not None
    first = await service.start()
    admission = await _admit(session_factory, account_id, user)

    async def waiting_for_the_crawl() -> bool:
        async with session_factory() as session:
            status = await session.scalar(select(Import.status).where(Import.id == crawl_id))
        view = await _view(session_factory, account_id, admission.reset_id)
        return status == "cancelling" and view.stage == "stopping_imports"

    await eventually(waiting_for_the_crawl, timeout=30)
    await first.kill9()
    # The crawl's worker stops on `cancelling` while the reset service is down.
    async with session_factory() as session, session.begin():
        await session.execute(
            text("UPDATE imports SET status = 'cancelled' WHERE id = :id"), {"id": crawl_id}
        )
    await service.start()
    view = await _finished(session_factory, account_id, admission)
    assert view.attempt == 1
    async with session_factory() as session:
        after = await fence.current_generation(session, account_id)
        gone = await session.get(Import, crawl_id)
    assert after == before + 1
    assert gone is None
