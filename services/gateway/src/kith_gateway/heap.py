"""Keeping the start-up heap out of the garbage collector's way.

Once the API is built the gateway holds ~210,000 long-lived objects (routes, pydantic
validators, SQLAlchemy mappers, the OpenAPI document). CPython's full collection walks all
of them: under 50 users it ran about every 7 s and paused the event loop for 100-142 ms,
which was the whole of the duplicates list's p99 (docs/performance.md, issue #3). Moving
them to the permanent generation once start-up is done (`gc.freeze`, the pattern CPython
documents for pre-fork servers) leaves each collection only what requests allocate.
"""

from __future__ import annotations

import gc

from kith_common.service import Runtime


async def freeze_startup_heap(_: Runtime) -> None:
    """Collect once, then freeze every surviving object; runs as the last start hook."""
    gc.collect()
    gc.freeze()


async def release_startup_heap(_: Runtime) -> None:
    """Hand the frozen objects back to the collector, so a stopped runtime can be freed."""
    gc.unfreeze()


def install(runtime: Runtime) -> None:
    """Freeze after every other start hook; release on stop."""
    runtime.on_start.append(freeze_startup_heap)
    runtime.on_stop.append(release_startup_heap)
