"""Real-delivery fixtures: the dedup runtime on a test stream prefix, a JetStream client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest_asyncio
from nats.js import JetStreamContext

from kith_common.service import Runtime
from kith_common.testing.bus import Harness, drop_streams
from kith_dedup.app import build_app


@pytest_asyncio.fixture(loop_scope="session")
async def harness(database_url: str, nats_url: str, stream_prefix: str) -> AsyncIterator[Harness]:
    h = Harness(database_url, nats_url, stream_prefix)
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
async def dedup(harness: Harness) -> Runtime:
    """The dedup service, started on the harness's prefix."""
    runtime = build_app(harness.settings())
    harness.runtimes.append(runtime)
    await runtime.start()
    return runtime


@pytest_asyncio.fixture(loop_scope="session")
async def send(harness: Harness, js: JetStreamContext) -> Callable[[str, Any], Awaitable[None]]:
    async def publish(subject: str, envelope: Any) -> None:
        await harness.publish_raw(js, envelope, str(envelope.id), subject=subject)

    return publish
