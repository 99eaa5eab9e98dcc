"""The gateway freezes its start-up heap, so full collections skip it (issue #3's p99)."""

from __future__ import annotations

import gc

import pytest

from kith_common.settings import Settings
from kith_common.testing.bus import drop_streams
from kith_common.testing.stack import free_port
from kith_gateway.app import build_app


@pytest.mark.asyncio(loop_scope="session")
async def test_started_gateway_keeps_its_routes_out_of_full_collections(
    settings: Settings, nats_url: str, stream_prefix: str
) -> None:
    runtime = build_app(settings.model_copy(update={"gateway_port": free_port()}))
    api = runtime.http_apps[0][0]
    route = api.router.routes[0]
    assert gc.get_freeze_count() == 0
    await runtime.start()
    try:
        # A frozen object is in no generation: a full collection no longer walks it.
        assert gc.get_freeze_count() > 10_000
        tracked = {id(obj) for obj in gc.get_objects()}
        assert id(route) not in tracked
        assert id(api) not in tracked
    finally:
        await runtime.stop()
        await drop_streams(nats_url, stream_prefix)
    # Stopped: everything is collectable again (tests start many runtimes in one process).
    assert gc.get_freeze_count() == 0
    assert id(route) in {id(obj) for obj in gc.get_objects()}
