"""Fixtures for the photos tests: a fake Monica over real HTTP, a scratch storage directory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from nats.js import JetStreamContext

from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.storage import LocalStorage
from kith_common.testing.bus import Harness, harness_fixture
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, World
from kith_photos.app import build_app
from kith_photos.testing import FAKE_TOKEN as TOKEN


@pytest.fixture
def world() -> World:
    w = World(seed=3)
    w.add_user(TOKEN, account_id=1)
    return w


@pytest.fixture
def fake(world: World) -> FakeMonica:
    return FakeMonica(world, rate_limit=0, tie_drop=set())


@pytest.fixture
def monica(fake: FakeMonica) -> Iterator[FakeMonicaServer]:
    with FakeMonicaServer(fake) as server:
        yield server


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


harness = pytest_asyncio.fixture(harness_fixture, loop_scope="session", name="harness")


@pytest_asyncio.fixture(loop_scope="session")
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    yield nc.jetstream()
    await nc.close()


@pytest.fixture
def settings(harness: Harness, tmp_path: Path) -> Settings:
    return harness.settings(
        secret_key="photos-test-secret-0123456789abcdef",
        import_allow_private_hosts=True,
        monica_rate_limit_per_minute=0,
        storage_url=f"file://{tmp_path / 'files'}",
    )


@pytest_asyncio.fixture(loop_scope="session")
async def photos_runtime(
    harness: Harness, settings: Settings, storage: LocalStorage
) -> AsyncIterator[Runtime]:
    runtime = build_app(settings, storage=storage)
    harness.runtimes.append(runtime)
    await runtime.start()
    yield runtime
