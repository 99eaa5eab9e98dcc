"""The gateway freezes its start-up heap as its last start hook.

`kith serve` freezes every service's heap once it is up (`kith_common.heap`); the gateway also
does it from its own start hooks, so a gateway started in-process (tests, the load bench,
`kith dev`) is measured as it runs in production.
"""

from __future__ import annotations

from kith_common.heap import freeze_startup_heap, release_startup_heap
from kith_common.service import Runtime


async def _freeze(_: Runtime) -> None:
    freeze_startup_heap()


async def _release(_: Runtime) -> None:
    release_startup_heap()


def install(runtime: Runtime) -> None:
    """Freeze after every other start hook; release on stop."""
    runtime.on_start.append(_freeze)
    runtime.on_stop.append(_release)
