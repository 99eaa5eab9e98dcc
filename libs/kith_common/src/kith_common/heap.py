"""Keeping the start-up heap out of the garbage collector's way.

Once started, a service holds a large, long-lived heap: the gateway ~210,000 objects (routes,
pydantic validators, SQLAlchemy mappers, the OpenAPI document), every service the models, the
event payloads and phonenumbers' metadata. CPython's full collection walks all of it: in the
gateway under 50 users it ran about every 7 s and paused the event loop for 100-142 ms, the
whole of the duplicates list's p99 (docs/performance.md, issue #3); in the importer the
collections were ~5 % of an import's CPU. Moving that heap to the permanent generation once
start-up is done (`gc.freeze`, the pattern CPython documents for pre-fork servers) leaves each
collection only what the work allocates.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once, then freeze every surviving object."""
    gc.collect()
    gc.freeze()


def release_startup_heap() -> None:
    """Hand the frozen objects back to the collector, so a stopped runtime can be freed."""
    gc.unfreeze()
