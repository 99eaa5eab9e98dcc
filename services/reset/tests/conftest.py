"""Fixtures for the reset service tests: real NATS and PostgreSQL, storage in a temp dir."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest_asyncio
from nats.js import JetStreamContext
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import resets
from kith_common.accounts import create_account, issue_api_token
from kith_common.db.models import AccountReset, Outbox, User
from kith_common.service import Runtime
from kith_common.storage import LocalStorage
from kith_common.testing.bus import Harness, drop_streams
from kith_reset.app import build_app
from kith_reset.tuning import Tuning

# Fast retries for tests: the production delays are 5..120 s (reset.md §7).
FAST = {"nack_delays": (0.2, 0.4, 0.6, 0.8, 1.0), "import_poll_seconds": 0.1}


@dataclass
class Account:
    id: int
    admin: User
    token: str


@dataclass
class ResetEnv:
    harness: Harness
    storage_root: Path
    sessions: async_sessionmaker[AsyncSession]
    js: JetStreamContext
    runtimes: list[Runtime] = field(default_factory=list)
    account_ids: list[int] = field(default_factory=list)

    @property
    def storage(self) -> LocalStorage:
        return LocalStorage(self.storage_root)

    def tuning(self, **overrides: Any) -> Tuning:
        values: dict[str, Any] = {"batch_size": 10, **FAST}
        values.update(overrides)
        return Tuning(**values)

    async def start(self, **overrides: Any) -> Runtime:
        settings = self.harness.settings(storage_url=f"file://{self.storage_root}")
        runtime = build_app(settings, self.tuning(**overrides))
        self.harness.runtimes.append(runtime)
        await runtime.start()
        return runtime

    async def account(self, name: str = "Reset") -> Account:
        async with self.sessions() as session, session.begin():
            acc, user = await create_account(
                session, name=name, email=f"reset-{uuid.uuid4().hex[:10]}@example.com"
            )
            token = await issue_api_token(session, user, "cli")
        self.account_ids.append(acc.id)
        return Account(acc.id, user, token)

    async def admit(self, account: Account) -> resets.Admission:
        async with self.sessions() as session, session.begin():
            return await resets.admit(
                session, account_id=account.id, user=account.admin, correlation_id=uuid.uuid4()
            )

    async def reset_row(self, reset_id: int) -> AccountReset:
        async with self.sessions() as session:
            row = await session.scalar(select(AccountReset).where(AccountReset.id == reset_id))
        assert row is not None
        return row

    async def view(self, account: Account, reset_id: int) -> resets.ResetView:
        async with self.sessions() as session:
            return await resets.get_reset(session, account.id, reset_id)

    def status_is(
        self, account: Account, reset_id: int, status: str
    ) -> Callable[[], Awaitable[resets.ResetView | None]]:
        async def check() -> resets.ResetView | None:
            view = await self.view(account, reset_id)
            return view if view.status == status else None

        return check


@pytest_asyncio.fixture(loop_scope="session")
async def env(
    database_url: str,
    nats_url: str,
    stream_prefix: str,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> AsyncIterator[ResetEnv]:
    harness = Harness(database_url, nats_url, stream_prefix)
    nc = await nats.connect(nats_url)
    built = ResetEnv(harness, tmp_path / "storage", session_factory, nc.jetstream())
    built.storage_root.mkdir()
    yield built
    for runtime in harness.runtimes:
        await runtime.stop()
    # Messages a test queued without a relay running would otherwise be published by the
    # next test's relay, on that test's stream prefix.
    async with session_factory() as session, session.begin():
        await session.execute(
            delete(Outbox).where(Outbox.sent_at.is_(None), Outbox.account_id.in_(built.account_ids))
        )
    await nc.close()
    await drop_streams(nats_url, stream_prefix)
