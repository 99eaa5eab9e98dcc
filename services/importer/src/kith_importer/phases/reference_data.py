"""P0 reference data (importer.md §7.1): genders, contact field types, relationship types
and tags, read once per import into one map kept in staging for resume and the misc phase."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.monica.errors import MonicaError
from kith_importer import queries
from kith_importer.crawl import REFERENCE_LISTS, Crawl, FatalImport
from kith_importer.reference import ReferenceMap, prime

__all__ = ["REFERENCE_ENDPOINTS", "all_pages", "refmap_of", "run"]

log = structlog.get_logger(__name__)


log = structlog.get_logger(__name__)
REFERENCE_ENDPOINTS = REFERENCE_LISTS


async def run(crawl: Crawl) -> None:
    # The four lists are independent: read together, a remote Monica's latency is paid once,
    # not four times (the shared rate limiter still spaces the requests). On failure the first
    # endpoint's error in this order is raised, as reading them one by one would.
    results = await asyncio.gather(
        *(all_pages(crawl, f"/{endpoint}", fatal=True) for endpoint in REFERENCE_ENDPOINTS),
        return_exceptions=True,
    )
    pages: dict[str, list[Any]] = {}
    for endpoint, result in zip(REFERENCE_ENDPOINTS, results, strict=True):
        if isinstance(result, BaseException):
            raise result
        pages[endpoint] = result
    async with crawl.step() as session:
        refmap = ReferenceMap(crawl.scope.account_id)
        await prime(session, refmap, pages)
        await queries.stage(
            session,
            account_id=crawl.scope.account_id,
            import_id=crawl.row.id,
            kind="refmap",
            key="map",
            payload=refmap.dump(),
        )
        crawl.refmap = refmap
        crawl.checkpoint = {"phase": "listing"}


async def all_pages(crawl: Crawl, path: str, *, fatal: bool) -> list[Any]:
    items: list[Any] = []
    page = 1
    while True:
        try:
            result = await crawl.client.page(path, page=page)
        except MonicaError as err:
            if err.transient:
                raise
            if fatal:
                raise FatalImport(err.message) from err
            crawl.error(err.message)
            return items
        items.extend(result.data)
        if page >= result.last_page or not result.data:
            return items
        page += 1


async def refmap_of(crawl: Crawl, session: AsyncSession) -> ReferenceMap:
    if crawl.refmap is None:
        staged = await queries.staged(session, crawl.row.id, "refmap")
        crawl.refmap = ReferenceMap.load(crawl.scope.account_id, staged.get("map", {}))
    return crawl.refmap
