"""The Monica rate limiter shared by every process and replica (importer.md §5, data-model §3.8).

One GCRA bucket per (origin, sha256(API key)) lives in the `rate_limits` table. A request takes
its slot with one `UPDATE ... RETURNING` under the row lock, on the database clock
(`clock_timestamp()`, not the transaction's `now()`), so processes on different machines with
skewed clocks still space their requests `window / N` apart. A 429 from Monica sets
`blocked_until`, which pauses every holder of the bucket at once: later slots start after it,
and a caller whose slot was reserved before the 429 finds the bucket blocked when its wait ends
and takes a new slot, so no phase or replica sends anything until the pause is over.

There is no burst allowance: Monica's window opens at the first hit, so evenly spaced requests
are the only schedule that can never put more than N into any window. The limiter is its own
short transaction, never the caller's, so a long crawl transaction never holds the row lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.monica.metrics import RATE_LIMIT_WAIT

__all__ = ["DEFAULT_WINDOW_SECONDS", "RateLimiter", "bucket_key"]

DEFAULT_WINDOW_SECONDS: Final = 60.0

# text(): GCRA needs greatest() over three timestamps and an upsert with RETURNING in one
# statement under the row lock; the ORM spelling would be longer and no clearer.
_TAKE_SLOT = text(
    """
    INSERT INTO rate_limits AS r (key, tat, blocked_until, updated_at)
    VALUES (:key, clock_timestamp() + make_interval(secs => :interval), NULL, clock_timestamp())
    ON CONFLICT (key) DO UPDATE
       SET tat = greatest(r.tat, clock_timestamp(), coalesce(r.blocked_until, clock_timestamp()))
                 + make_interval(secs => :interval),
           updated_at = clock_timestamp()
    RETURNING extract(epoch FROM (r.tat - make_interval(secs => :interval)
                                  - clock_timestamp()))::float8 AS wait
    """
)
_BLOCKED = text(
    "SELECT coalesce(blocked_until > clock_timestamp(), false) FROM rate_limits WHERE key = :key"
)
_BLOCK = text(
    """
    INSERT INTO rate_limits AS r (key, tat, blocked_until, updated_at)
    VALUES (:key, clock_timestamp(), clock_timestamp() + make_interval(secs => :seconds),
            clock_timestamp())
    ON CONFLICT (key) DO UPDATE
       SET blocked_until = greatest(coalesce(r.blocked_until, clock_timestamp()),
                                    clock_timestamp() + make_interval(secs => :seconds)),
           updated_at = clock_timestamp()
    """
)


def bucket_key(origin: str, api_key: str) -> str:
    """`monica:<origin>:<sha256 of the key>`: the key itself is never stored."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    return f"monica:{origin.lower()}:{digest}"


Sleep = Callable[[float], Awaitable[None]]


@dataclass
class RateLimiter:
    """Spaces requests of one bucket `window / per_window` apart, across all processes.

    `per_window` 0 turns the limiter off (no database round trip at all). `wake` lets a
    cancel interrupt a long wait (importer.md §10: the cancel command wakes a waiting crawl).
    """

    sessions: async_sessionmaker[AsyncSession] | None
    key: str
    per_window: int
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    sleep: Sleep = asyncio.sleep
    waited_seconds: float = 0.0
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def enabled(self) -> bool:
        return self.per_window > 0 and self.sessions is not None

    @property
    def interval(self) -> float:
        return self.window_seconds / self.per_window

    async def acquire(self) -> float:
        """Take the next slot and wait for it; returns the seconds waited.

        The slot is reserved before waiting, so concurrent callers queue in slot order
        instead of racing when a wait ends.
        """
        if not self.enabled:
            return 0.0
        assert self.sessions is not None
        waited = 0.0
        while True:
            async with self.sessions() as session, session.begin():
                wait = await session.scalar(
                    _TAKE_SLOT, {"key": self.key, "interval": self.interval}
                )
            wait = max(0.0, float(wait or 0.0))
            if wait <= 0:
                return waited
            await self._wait(wait)
            waited += wait
            if self.wake.is_set() or not await self._blocked():
                return waited

    async def _blocked(self) -> bool:
        """Whether a 429 blocked the bucket past this moment (while a slot was waited for)."""
        assert self.sessions is not None
        async with self.sessions() as session:
            return bool(await session.scalar(_BLOCKED, {"key": self.key}))

    async def block(self, seconds: float) -> None:
        """Monica answered 429: pause every user of the bucket for `seconds`."""
        if self.sessions is None:
            return
        async with self.sessions() as session, session.begin():
            await session.execute(_BLOCK, {"key": self.key, "seconds": max(0.0, seconds)})

    async def _wait(self, seconds: float) -> None:
        started = time.monotonic()
        try:
            sleeper = asyncio.ensure_future(self.sleep(seconds))
            waker = asyncio.ensure_future(self.wake.wait())
            _, pending = await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        finally:
            spent = time.monotonic() - started
            self.waited_seconds += spent
            RATE_LIMIT_WAIT.inc(spent)
