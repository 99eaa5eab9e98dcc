"""A 202's command reaches the bus even when NATS is down at request time, exactly once."""

from __future__ import annotations

from pathlib import Path

import httpx

from kith_common.devstack import EmbeddedNats
from kith_common.events.payloads.dedup import ScanDuplicates
from kith_common.ports import free_port
from kith_common.testing import eventually
from kith_common.testing.bus import Harness, create_effects_table
from kith_gateway.app import build_app
from kith_gateway.testing import make_account


async def test_scan_accepted_while_nats_is_down_is_handled_once_when_it_returns(
    database_url: str, stream_prefix: str, tmp_path: Path
) -> None:
    server = EmbeddedNats(tmp_path, port=free_port()).start()
    try:
        harness = Harness(database_url, server.url, stream_prefix)
        await create_effects_table(harness)
        worker = harness.runtime("dedup")
        worker.consume(harness.spec("dedup-scan-test"), ScanDuplicates)(
            harness.recording_handler("dedup")
        )
        gateway = build_app(harness.settings(gateway_port=free_port()))
        harness.runtimes.append(gateway)
        await worker.start()
        await gateway.start()
        account = await make_account(gateway.sessions)
        api = gateway.http_apps[0][0]

        server.stop()
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            response = await client.post("/v1/duplicates/scan", headers=account.headers("admin"))
        assert response.status_code == 202, response.text
        scan_id = response.json()["id"]

        server.start()  # same port and store: the relay publishes, the worker consumes
        await eventually(lambda: harness.has_effect(scan_id), timeout=60)
        effects = await harness.effects(scan_id)
        assert len(effects) == 1
        for runtime in harness.runtimes:
            await runtime.stop()
    finally:
        server.stop()
