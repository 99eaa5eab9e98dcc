"""The shared GCRA limiter spaces requests across limiters (processes) on one bucket."""

from __future__ import annotations

import asyncio
import time
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.monica.ratelimit import RateLimiter, bucket_key


async def test_two_limiters_on_one_bucket_share_the_rate(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    key = bucket_key(f"http://h-{uuid.uuid4().hex}:80", "k")
    a = RateLimiter(session_factory, key, per_window=10, window_seconds=1.0)
    b = RateLimiter(session_factory, key, per_window=10, window_seconds=1.0)
    stamps: list[float] = []

    async def run(limiter: RateLimiter) -> None:
        for _ in range(6):
            await limiter.acquire()
            stamps.append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(run(a), run(b))
    stamps.sort()
    # 12 requests at 10 per second: the n-th request (either limiter's) gets the n-th 0.1 s
    # slot. A busy machine can only delay a request past its slot, never pull it earlier, so
    # each lower bound holds under any load (0.05 s allows for the clocks' rounding).
    for n, stamp in enumerate(stamps):
        assert stamp - started >= n * 0.1 - 0.05, f"request {n} ran before its slot"
    assert a.waited_seconds + b.waited_seconds > 0


async def test_a_429_block_pauses_every_limiter_of_the_bucket(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    key = bucket_key(f"http://h-{uuid.uuid4().hex}:80", "k")
    a = RateLimiter(session_factory, key, per_window=1000, window_seconds=1.0)
    b = RateLimiter(session_factory, key, per_window=1000, window_seconds=1.0)
    await a.block(0.5)
    started = time.monotonic()
    await b.acquire()
    assert time.monotonic() - started >= 0.4


async def test_a_429_during_a_wait_holds_the_slot_already_reserved(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    key = bucket_key(f"http://h-{uuid.uuid4().hex}:80", "k")
    reserved = asyncio.Event()

    async def sleep(seconds: float) -> None:
        reserved.set()
        await asyncio.sleep(seconds)

    a = RateLimiter(session_factory, key, per_window=4, window_seconds=1.0)
    b = RateLimiter(session_factory, key, per_window=4, window_seconds=1.0, sleep=sleep)
    await a.acquire()
    started = time.monotonic()
    waiting = asyncio.ensure_future(b.acquire())
    await reserved.wait()  # b holds the slot 0.25 s away and waits for it
    await a.block(1.0)  # Monica answered a's request with 429, Retry-After: 1
    await waiting
    assert time.monotonic() - started >= 1.0


async def test_other_host_or_key_has_its_own_bucket(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    host = f"http://h-{uuid.uuid4().hex}:80"
    a = RateLimiter(session_factory, bucket_key(host, "k1"), per_window=1, window_seconds=30)
    b = RateLimiter(session_factory, bucket_key(host, "k2"), per_window=1, window_seconds=30)
    assert await a.acquire() == 0
    assert await b.acquire() == 0


async def test_zero_turns_the_limiter_off() -> None:
    limiter = RateLimiter(None, "k", per_window=0)
    assert not limiter.enabled
    assert await limiter.acquire() == 0
