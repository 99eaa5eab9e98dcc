"""P1 listing (importer.md §7.2): every page of `/contacts?with=contactfields`, ten contacts a
step, each page's ids and `created_at` kept as the listing trace the backfill re-lists from."""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.monica.errors import MonicaError
from kith_common.monica.relisting import MAX_LIMIT, trace_page
from kith_importer import queries
from kith_importer.contacts import plan_contacts
from kith_importer.crawl import CHUNK, Crawl, FatalImport
from kith_importer.parsing import as_dict, as_int
from kith_importer.phases.paging import pages_from
from kith_importer.phases.reference_data import refmap_of
from kith_importer.writes import StepWrite

__all__ = ["run"]

log = structlog.get_logger(__name__)


async def run(crawl: Crawl) -> None:
    page = int(crawl.checkpoint.get("page", 1))
    offset = int(crawl.checkpoint.get("offset", 0))
    total = crawl.checkpoint.get("total")
    # Ids already processed (duplicates across pages are processed once). Read once per
    # delivery: this worker holds the lease, so only its own steps add to it.
    seen: set[str] | None = None

    def fatal(err: MonicaError, page: int) -> None:
        raise FatalImport(err.message) from err  # importer.md §10: a listing page is fatal

    listed = pages_from(
        crawl,
        "/contacts",
        page,
        phase="listing",
        on_error=fatal,
        params={"with": "contactfields"},
    )
    async with contextlib.aclosing(listed):
        async for page, result in listed:
            if total is None:
                total = result.total
            rows = result.data
            # The backfill's trace; its `total` is the backfill's T (the last page is freshest).
            trace = trace_page(rows, result.total)
            starts = list(range(offset, len(rows), CHUNK)) or [len(rows)]
            for start in starts:
                chunk = rows[start : start + CHUNK]
                async with crawl.step() as session:
                    if seen is None:
                        seen = await queries.staged_keys(session, crawl.row.id, "seen")
                    write = StepWrite()
                    if start == starts[0]:
                        write.stage("page", str(page), trace)
                    await _listing_chunk(crawl, session, write, seen, (page, start), chunk)
                    done = start + len(chunk)
                    crawl.checkpoint = {
                        "phase": "listing",
                        "started": True,
                        "page": page,
                        "offset": done,
                        "total": total,
                    }
                    # positions read, so partials and duplicates never push it past total
                    await crawl.progress(session, (page - 1) * MAX_LIMIT + done, total)
            if crawl.statistics is not None:
                crawl.statistics.grew_to(crawl.summary["contacts"])
            offset = 0
    crawl.checkpoint = {"phase": "notes", "listing_total": total}


async def _listing_chunk(
    crawl: Crawl,
    session: AsyncSession,
    write: StepWrite,
    seen: set[str],
    at: tuple[int, int],
    chunk: list[Any],
) -> None:
    """≤ 10 listed contacts: three reads at most, then one write (`StepWrite`)."""
    page, start = at
    refmap = await refmap_of(crawl, session)
    batch: list[dict[str, Any]] = []
    positions: list[int] = []
    for position, raw in enumerate(chunk, start=start):
        data = as_dict(raw)
        mid = as_int(data.get("id"))
        if mid is None:
            crawl.error(f"GET /api/contacts page {page}: row {position + 1} has no valid id")
            continue
        if str(mid) in seen:
            continue  # a duplicate id (tie drop, API §11.1) is processed once
        seen.add(str(mid))
        batch.append(data)
        positions.append(position)
    planned = await plan_contacts(session, crawl.scope, refmap, batch, write)
    for data, position, outcome in zip(batch, positions, planned.outcomes, strict=True):
        key = str(as_int(data.get("id")))
        write.stage(
            "seen",
            key,
            {
                "page": page,
                "position": position,
                "created_at": data.get("created_at"),
                "via": "listing",
                "full": True,
            },
        )
        if outcome.deferred:
            write.stage("deferred", key, outcome.deferred)
    await planned.execute(session, crawl.scope)
    for outcome in planned.outcomes:
        crawl.count(outcome)
