"""A worker process for the SIGTERM test: one durable whose handler takes 2 s.

Run by test_outages.py with KITH_* settings in the environment; it writes
`$WORKER_STARTED_FILE.ready` once consuming and `$WORKER_STARTED_FILE` when a handler starts.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from kith_common.bus.subscribe import MessageContext
from kith_common.events.payloads.dedup import ScanDuplicates
from kith_common.service import Runtime
from kith_common.settings import load_settings
from kith_common.testing.bus import Harness, record_effect

STARTED = Path(os.environ["WORKER_STARTED_FILE"])


async def main() -> None:
    settings = load_settings()
    runtime = Runtime(settings, "worker")
    spec = Harness(settings.database_url, settings.nats_url, settings.stream_prefix).spec(
        durable="test-sigterm", ack_wait=3
    )

    async def handle(ctx: MessageContext[Any]) -> None:
        STARTED.touch()
        await asyncio.sleep(2)
        await record_effect(ctx.tx, ctx.consumer, ctx.envelope.id, "worker")

    runtime.consume(spec, ScanDuplicates)(handle)

    async def ready(_: Runtime) -> None:
        Path(str(STARTED) + ".ready").touch()

    runtime.on_start.append(ready)
    await runtime.run_until_signalled()


if __name__ == "__main__":
    asyncio.run(main())
