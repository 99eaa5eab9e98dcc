"""The Monica crawl's phases, in the order they run (importer.md §7).

One module per phase; `run_phases` is the whole pipeline. Each phase resumes from
`crawl.checkpoint` (a redelivered start lands in the phase it was in, with its cursor), and
each ends by pointing the checkpoint at the next one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from kith_common.events.payloads.imports import ImportPhase
from kith_importer.crawl import Crawl
from kith_importer.phases import (
    auto_merge,
    backfill,
    cross_references,
    listing,
    notes,
    reference_data,
)

__all__ = ["PIPELINE", "run_phases"]

PIPELINE: Final[dict[ImportPhase, Callable[[Crawl], Awaitable[None]]]] = {
    "reference_data": reference_data.run,  # P0
    "listing": listing.run,  # P1
    "notes": notes.run,  # P1.2
    "coverage_backfill": backfill.run,  # P1.4
    "auto_merge": auto_merge.run,  # P1.5
    "cross_references": cross_references.run,  # P2
}


async def run_phases(crawl: Crawl) -> None:
    """Run from the checkpoint's phase to the end, then complete the import."""
    order = list(PIPELINE)
    for name in order[order.index(crawl.phase) :]:
        resuming = crawl.phase == name and bool(crawl.checkpoint.get("started"))
        if not resuming:
            await crawl.enter(name, started=True)
        await PIPELINE[name](crawl)
    await crawl.complete()
