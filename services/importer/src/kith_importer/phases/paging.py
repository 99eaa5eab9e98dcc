"""Reading one Monica list page by page for a crawl phase, the next page fetched ahead.

The listing and the notes read their lists the same way (importer.md §7.2, §7.3): from the
checkpoint's page to `meta.last_page` (re-read on every page), one page requested in the
background while the current one is written (`PagesAhead`), and each list's size told to the
crawl's estimate as soon as its first page arrives. What a failed page means differs (the
listing fails the import, the notes skip the rest), so the caller says it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping

from kith_common.events.payloads.imports import ImportPhase
from kith_common.monica.ahead import PagesAhead
from kith_common.monica.client import Page
from kith_common.monica.errors import MonicaError
from kith_importer.crawl import Crawl

__all__ = ["pages_from"]


async def pages_from(
    crawl: Crawl,
    path: str,
    first: int,
    *,
    phase: ImportPhase,
    on_error: Callable[[MonicaError, int], None],
    params: Mapping[str, str] | None = None,
) -> AsyncGenerator[tuple[int, Page], None]:
    """(page number, page) from `first` to the last page. A transient error (retries spent)
    is raised; any other goes to `on_error`, which raises or lets the reading stop there.

    Use it under `contextlib.aclosing`, so the page fetched ahead is dropped whichever way
    the caller leaves."""
    page = first
    async with PagesAhead(
        lambda n: crawl.client.page(path, page=n, params=params, endpoint=path)
    ) as pages:
        while True:
            try:
                result = await pages.get(page)
            except MonicaError as err:
                if err.transient:
                    raise
                on_error(err, page)
                return
            if page < result.last_page and result.data:
                await pages.ahead(page + 1)
            crawl.expect(phase, result.last_page)
            yield page, result
            if page >= result.last_page or not result.data:
                return
            page += 1
