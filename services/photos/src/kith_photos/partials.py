"""Removing what killed writers left half-written in storage.

A photos (or gateway upload) process killed with SIGKILL between writing a partial file and
renaming it into place leaves the partial on disk forever: its key's next write uses a new
partial name. The photos service is the one that writes most files and runs everywhere, so it
sweeps the store once at start, in the background (a large tree must not delay readiness).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from kith_common.service import Runtime
from kith_common.storage import Storage, StorageError

log = structlog.get_logger(__name__)

# A live put rewrites its partial within seconds (files are capped at tens of MB); one this
# old has no writer left, even on slow network storage.
STALE_AFTER_SECONDS = 15 * 60.0


async def sweep(storage: Storage, older_than: float = STALE_AFTER_SECONDS) -> int:
    """Sweep once; a storage failure is logged, never fatal (the next start tries again)."""
    try:
        removed = await storage.sweep_partials(older_than)
    except StorageError as err:
        log.warning("storage_partials_sweep_failed", error=str(err))
        return 0
    if removed:
        log.info("storage_partials_swept", removed=removed)
    return removed


def install(runtime: Runtime, storage: Storage, older_than: float = STALE_AFTER_SECONDS) -> None:
    """Sweep in the background after start; stop waits for nothing but cancels a slow sweep."""
    tasks: list[asyncio.Task[int]] = []

    async def start(_: Runtime) -> None:
        tasks.append(asyncio.create_task(sweep(storage, older_than), name="partials-sweep"))

    async def stop(_: Runtime) -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    runtime.on_start.append(start)
    runtime.on_stop.append(stop)
