"""A partial file a killed writer left is removed when the photos service starts."""

from __future__ import annotations

import os
import time

import pytest

from kith_common.settings import Settings
from kith_common.storage import LocalStorage
from kith_common.testing import eventually
from kith_common.testing.bus import Harness
from kith_photos.app import build_app


@pytest.mark.asyncio(loop_scope="session")
async def test_start_sweeps_stale_partials_and_keeps_files_and_live_writes(
    harness: Harness, settings: Settings, storage: LocalStorage
) -> None:
    await storage.put("a/7/photos/kept.png", b"kept")
    folder = storage.path_of("a/7/photos")
    stale = folder / ".lost.png.0123abcd.partial"
    stale.write_bytes(b"half a photo")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    live = folder / ".writing.png.4567ef01.partial"
    live.write_bytes(b"being written")

    runtime = build_app(settings, storage=storage)
    harness.runtimes.append(runtime)
    await runtime.start()

    async def swept() -> bool:
        return not stale.exists()

    await eventually(swept, timeout=10)
    assert live.exists()
    assert await storage.get("a/7/photos/kept.png") == b"kept"
