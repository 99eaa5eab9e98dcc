"""Reading the next page of a Monica listing while the current one is being written.

A paged phase alternates a GET (Monica's time) and the page's transactions (PostgreSQL's
time); done one after the other, each waits for the other. With the next page requested in the
background as soon as the current one arrives, the two overlap. Only one page is ever ahead,
so memory stays at two pages, and the request still passes the shared rate limiter like any
other. A fetch that fails raises when its page is asked for, at the same point of the phase as
without read-ahead, so the caller's error handling is unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Generic, TypeVar

__all__ = ["PagesAhead"]

T = TypeVar("T")


class PagesAhead(Generic[T]):
    """One listing's pages, at most one fetched ahead; use as an async context manager."""

    def __init__(self, fetch: Callable[[int], Awaitable[T]]) -> None:
        self._fetch = fetch
        self._page: int | None = None
        self._task: asyncio.Task[T] | None = None

    async def get(self, page: int) -> T:
        """Page `page`: the one fetched ahead when it is that page, else fetched now."""
        if self._task is not None and self._page == page:
            task, self._task, self._page = self._task, None, None
            return await task
        await self._drop()
        return await self._fetch(page)

    async def ahead(self, page: int) -> None:
        """Start fetching `page` in the background (dropping any other page ahead)."""
        await self._drop()
        self._page = page
        self._task = asyncio.ensure_future(self._fetch(page))

    async def _drop(self) -> None:
        task, self._task, self._page = self._task, None, None
        if task is None:
            return
        task.cancel()
        # `wait` never raises the task's outcome, only our own cancellation; the outcome no
        # longer matters (the phase ended or moved elsewhere) but is read so asyncio does not
        # report it as never retrieved.
        await asyncio.wait({task})
        if not task.cancelled():
            task.exception()

    async def __aenter__(self) -> PagesAhead[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._drop()
