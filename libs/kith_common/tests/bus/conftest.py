"""Fixtures for the bus tests: a harness on a fresh stream prefix, an account, envelopes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import pytest
import pytest_asyncio
from nats.js import JetStreamContext

from kith_common.accounts import create_account
from kith_common.testing.bus import Harness, create_effects_table, drop_streams, scan_envelope


@pytest_asyncio.fixture(loop_scope="session")
async def harness(database_url: str, nats_url: str, stream_prefix: str) -> AsyncIterator[Harness]:
    h = Harness(database_url, nats_url, stream_prefix)
    await create_effects_table(h)
    yield h
    for runtime in h.runtimes:
        await runtime.stop()
    await drop_streams(nats_url, stream_prefix)


@pytest_asyncio.fixture(loop_scope="session")
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    yield nc.jetstream()
    await nc.close()


@pytest_asyncio.fixture(loop_scope="session")
async def account(harness: Harness) -> tuple[int, int]:
    """A fresh account: (id, generation)."""
    runtime = harness.runtime("accounts")
    async with runtime.sessions() as session, session.begin():
        acc, _user = await create_account(
            session, name="Bus test", email=f"bus-{uuid.uuid4().hex[:10]}@example.com"
        )
    return acc.id, acc.generation


@pytest.fixture
def envelope_for(account: tuple[int, int]) -> Callable[..., Any]:
    return lambda **kw: scan_envelope(account, **kw)
