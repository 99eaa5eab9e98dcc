"""Read-ahead of a listing's next page: overlap, same errors, nothing left running."""

from __future__ import annotations

import asyncio

import pytest

from kith_common.monica.ahead import PagesAhead


class _Listing:
    """Pages that take `delay` seconds each; records which were requested and finished."""

    def __init__(self, delay: float = 0.05, failing: int | None = None) -> None:
        self.delay = delay
        self.failing = failing
        self.requested: list[int] = []
        self.finished: list[int] = []

    async def fetch(self, page: int) -> str:
        self.requested.append(page)
        await asyncio.sleep(self.delay)
        if page == self.failing:
            msg = f"page {page} broke"
            raise ValueError(msg)
        self.finished.append(page)
        return f"page {page}"


async def test_the_next_page_is_fetched_while_the_current_one_is_written() -> None:
    listing = _Listing(delay=0.05)
    in_flight_during_writes = []
    async with PagesAhead(listing.fetch) as pages:
        for page in (1, 2, 3, 4):
            assert await pages.get(page) == f"page {page}"
            if page < 4:
                await pages.ahead(page + 1)
            await asyncio.sleep(0.01)  # the page's writes
            in_flight_during_writes.append(set(listing.requested) - set(listing.finished))
    assert listing.requested == [1, 2, 3, 4]  # each page once, none beyond the last
    assert in_flight_during_writes == [{2}, {3}, {4}, set()]


async def test_a_failing_page_raises_where_it_is_asked_for() -> None:
    listing = _Listing(delay=0.0, failing=2)
    async with PagesAhead(listing.fetch) as pages:
        assert await pages.get(1) == "page 1"
        await pages.ahead(2)
        await asyncio.sleep(0.01)  # the fetch has failed in the background by now
        with pytest.raises(ValueError, match="page 2 broke"):
            await pages.get(2)


async def test_leaving_early_cancels_the_page_ahead() -> None:
    listing = _Listing(delay=10.0)

    async def phase() -> None:
        async with PagesAhead(listing.fetch) as pages:
            await pages.ahead(2)
            await asyncio.sleep(0)
            msg = "cancel seen"
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="cancel seen"):
        await phase()
    assert listing.requested == [2]
    assert listing.finished == []
    assert all(t.done() for t in asyncio.all_tasks() if t is not asyncio.current_task())


async def test_asking_for_another_page_drops_the_one_ahead() -> None:
    listing = _Listing(delay=0.02)
    async with PagesAhead(listing.fetch) as pages:
        await pages.ahead(5)
        assert await pages.get(1) == "page 1"
    assert listing.finished == [1]
