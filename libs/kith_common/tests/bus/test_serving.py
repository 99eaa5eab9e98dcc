"""How `kith serve` runs a service: on uvloop, its start-up heap frozen until it stops."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from typing import Any

import pytest
import uvloop

from kith_common.cli import commands
from kith_common.settings import Settings
from kith_common.testing import eventually
from kith_common.testing.bus import Harness


async def test_a_served_runtime_freezes_its_startup_heap_until_sigterm(
    harness: Harness, envelope_for: Any
) -> None:
    runtime = harness.runtime("served")
    runtime.consume(harness.spec("served-worker"), type(envelope_for().data))(
        harness.recording_handler("served")
    )
    assert gc.get_freeze_count() == 0
    serving = asyncio.create_task(runtime.run_until_signalled())

    async def frozen() -> bool:
        return gc.get_freeze_count() > 1_000

    try:
        await eventually(frozen, timeout=20)
        # A frozen object is in no generation: full collections no longer walk it.
        assert id(runtime.broker) not in {id(obj) for obj in gc.get_objects()}
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(serving, 30)
    finally:
        serving.cancel()
    assert gc.get_freeze_count() == 0
    # The handlers went with the runtime: the loop no longer swallows SIGTERM.
    assert not asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)


def test_kith_serve_runs_the_service_on_uvloop(
    monkeypatch: pytest.MonkeyPatch, database_url: str, nats_url: str
) -> None:
    loops: list[type[asyncio.AbstractEventLoop]] = []

    class Recorder:
        async def run_until_signalled(self) -> None:
            loops.append(type(asyncio.get_running_loop()))

    monkeypatch.setattr("kith_common.cli.main.load_service", lambda _name: lambda _s: Recorder())
    settings = Settings(
        database_url=database_url,
        nats_url=nats_url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        log_format="console",
    )
    try:
        assert commands.serve(settings, "dedup") == 0
    finally:
        logging.getLogger().handlers.clear()  # `serve` configured logging
    assert loops == [uvloop.Loop]
