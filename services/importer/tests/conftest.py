"""Fixtures: a fake Monica over real HTTP, an importer runtime on a fresh stream prefix, and a
fresh account per test (real NATS and PostgreSQL from the kith plugin)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.accounts import create_account
from kith_common.db.models import Import
from kith_common.service import Runtime
from kith_common.testing.bus import Harness, drop_streams
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, World, generate
from kith_importer.app import build_app
from kith_importer.config import ImporterConfig
from kith_importer.testing import KEY, create, wait_for


@pytest_asyncio.fixture(loop_scope="session")
async def harness(database_url: str, nats_url: str, stream_prefix: str) -> AsyncIterator[Harness]:
    h = Harness(database_url, nats_url, stream_prefix)
    yield h
    for runtime in h.runtimes:
        await runtime.stop()
    await drop_streams(nats_url, stream_prefix)


@pytest_asyncio.fixture(loop_scope="session")
async def account(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """(account id, user id) of a fresh account."""
    async with session_factory() as session, session.begin():
        acc, user = await create_account(
            session, name="Import", email=f"imp-{uuid.uuid4().hex[:10]}@example.com"
        )
    return acc.id, user.id


@pytest.fixture
def world() -> World:
    return generate(
        contacts=40,
        seed=11,
        partial_ratio=0.1,
        inactive_ratio=0.05,
        duplicate_ratio=0.05,
        relationship_ratio=0.3,
        notes_per_contact=1.5,
    )


@pytest.fixture
def fake(world: World) -> FakeMonica:
    return FakeMonica(world)


@pytest.fixture
def server(fake: FakeMonica) -> Iterator[FakeMonicaServer]:
    with FakeMonicaServer(fake) as running:
        yield running


def importer_config(settings: Any, **overrides: Any) -> ImporterConfig:
    values: dict[str, Any] = {
        "backoff_base": 0.01,
        "max_deliver": 3,
        "nack_delays": (0.2,),
        "encryption_key": KEY,
        # Low enough that the 40-contact world refreshes statistics once, as 1,000 would.
        "analyze_after_contacts": 20,
    }
    values.update(overrides)
    return ImporterConfig.from_settings(settings, **values)


@pytest_asyncio.fixture(loop_scope="session")
async def importer(harness: Harness) -> Runtime:
    settings = harness.settings(import_allow_private_hosts=True, monica_rate_limit_per_minute=0)
    runtime = build_app(settings, importer_config(settings))
    harness.runtimes.append(runtime)
    await runtime.start()
    return runtime


RunImport = Callable[..., Awaitable[Import]]


@pytest.fixture
def run_import(
    importer: Runtime,
    session_factory: async_sessionmaker[AsyncSession],
    account: tuple[int, int],
    server: FakeMonicaServer,
) -> RunImport:
    """Start an import against the fake and wait for its final status."""

    async def run(
        *,
        options: dict[str, Any] | None = None,
        url: str | None = None,
        timeout: float = 60.0,
        token: str = "test-token",
    ) -> Import:
        import_id = await create(
            session_factory, account, url or server.url, options=options, token=token
        )
        return await wait_for(session_factory, import_id, timeout=timeout)

    return run
