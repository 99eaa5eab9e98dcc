"""The in-process harness itself: every service runs and answers, stopping leaves no stream,
and a service that cannot start fails `start` with its cause (tests/cli and tests/console build
on these promises)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import nats
import pytest
from nats.js.errors import NotFoundError

from kith_common.events import subjects as s
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.testing.bus import Harness
from kith_common.testing.inprocess import InProcessStack

# One consumer of each worker service: if one is there, that service's runtime started.
ONE_DURABLE_EACH = {"importer-start", "dedup-scan", "photos-sync", "reset-notes"}


async def _durables(nats_url: str, prefix: str) -> set[str]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        names: set[str] = set()
        for base in (s.STREAM_CMD, s.STREAM_EVT):
            names |= {c.name for c in await js.consumers_info(s.stream_name(base, prefix))}
        return names
    finally:
        await nc.close()


async def _stream_exists(nats_url: str, prefix: str) -> bool:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().stream_info(s.stream_name(s.STREAM_CMD, prefix))
    except NotFoundError:
        return False
    finally:
        await nc.close()
    return True


def test_every_service_runs_and_stopping_drops_the_streams(
    database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path
) -> None:
    harness = Harness(database_url, nats_url, stream_prefix)
    with InProcessStack(harness, tmp_path / "storage") as stack:
        ready = httpx.get(f"{stack.base_url}/readyz", timeout=10)
        assert ready.json() == {"status": "ready"}
        assert stack.call(_durables(nats_url, stream_prefix)) >= ONE_DURABLE_EACH
    assert not asyncio.run(_stream_exists(nats_url, stream_prefix))


def test_a_service_that_cannot_be_built_fails_start_with_its_cause(
    database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path
) -> None:
    def broken(settings: Settings) -> Runtime:
        msg = f"no storage at {settings.storage_url}"
        raise ValueError(msg)

    harness = Harness(database_url, nats_url, stream_prefix)
    stack = InProcessStack(harness, tmp_path / "storage", builders={"photos": broken})
    with pytest.raises(RuntimeError, match="did not start") as raised:
        stack.start()
    stack.stop()
    assert isinstance(raised.value.__cause__, ValueError)
    assert "no storage at file://" in str(raised.value.__cause__)
