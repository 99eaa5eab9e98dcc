"""DLQ replay cannot lose a letter (issue 19 §3), through the operator API and a real worker."""

from __future__ import annotations

from typing import Any

import httpx
import nats

from kith_common import fence
from kith_common.bus.consumers import ConsumerSpec
from kith_common.bus.subscribe import MessageContext
from kith_common.errors import Permanent
from kith_common.events.payloads.dedup import ScanDuplicates
from kith_common.events.subjects import DEDUP_SCAN, STREAM_CMD
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.testing import eventually
from kith_common.testing.bus import scan_envelope
from kith_gateway.testing import TestAccount


async def test_a_replayed_letter_that_fails_again_within_the_duplicate_window_is_not_lost(
    settings: Settings,
    client: httpx.AsyncClient,
    acct: TestAccount,
    operator_token: str,
) -> None:
    failures: list[int] = []

    async def always_refuses(ctx: MessageContext[Any]) -> None:
        failures.append(ctx.deliveries)
        msg = "refused for good"
        raise Permanent(msg)

    worker = Runtime(settings, "doomed")
    worker.consume(
        ConsumerSpec(durable="doomed-scan", subject=DEDUP_SCAN, stream=STREAM_CMD), ScanDuplicates
    )(always_refuses)
    headers = {"Authorization": f"Bearer {operator_token}"}
    await worker.start()
    try:
        async with worker.sessions() as session:
            generation = await fence.current_generation(session, acct.id)
        envelope = scan_envelope((acct.id, generation))
        nc = await nats.connect(settings.nats_url)
        await nc.jetstream().publish(
            worker.layout.subject(DEDUP_SCAN),
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(envelope.id)},
        )
        await nc.close()

        async def letters() -> list[dict[str, Any]]:
            page = await client.get("/v1/admin/dlq", headers=headers)
            assert page.status_code == 200, page.text
            return [d for d in page.json()["data"] if d["consumer"] == "doomed-scan"]

        await eventually(letters, timeout=15)
        (first,) = await letters()
        replay = await client.post(f"/v1/admin/dlq/{first['seq']}/replay", headers=headers)
        assert replay.status_code == 202, replay.text

        # Seconds later, well inside KITH_DLQ's two-minute duplicate window, it fails again:
        # the letter is back (a new one), not dropped as a duplicate of the deleted one.
        await eventually(lambda: len(failures) == 2, timeout=15)
        await eventually(letters, timeout=15)
        (second,) = await letters()
        assert second["seq"] > first["seq"]
        assert second["envelope"]["id"] == str(envelope.id)
        assert second["error_message"] == "refused for good"
    finally:
        await worker.stop()
