"""Admission by key on the `rate_limits` table: N per window, refused beyond (issue #20).

The Monica limiter (`kith_common.monica.ratelimit`) makes a caller wait for its slot; this one
answers at once: admitted, or the seconds until a slot frees, for a 429 with `Retry-After`.
Same GCRA row (`tat`, the theoretical arrival time), with a burst of `per_window`: a bucket is
full again once `tat` is in the past, so such rows carry nothing and `prune` deletes them.
Shared by every gateway replica through PostgreSQL, never process memory (ARCHITECTURE §4).
"""

from __future__ import annotations

import math
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["admit", "prune"]

# text(): an upsert that locks the row and returns its tat with the database clock, in one
# statement; the no-op DO UPDATE is what makes RETURNING yield an existing row.
_LOCK = text(
    """
    INSERT INTO rate_limits AS r (key, tat, blocked_until, updated_at)
    VALUES (:key, clock_timestamp(), NULL, clock_timestamp())
    ON CONFLICT (key) DO UPDATE SET updated_at = r.updated_at
    RETURNING extract(epoch FROM greatest(r.tat, clock_timestamp()) - clock_timestamp())::float8
    """
)
_ADVANCE = text(
    """
    UPDATE rate_limits
       SET tat = greatest(tat, clock_timestamp()) + make_interval(secs => :interval),
           updated_at = clock_timestamp()
     WHERE key = :key
    """
)
# A bucket whose tat and block both lie in the past behaves exactly like a missing row.
_PRUNE = text(
    """
    DELETE FROM rate_limits
     WHERE greatest(tat, coalesce(blocked_until, tat))
           < clock_timestamp() - make_interval(secs => :idle)
    """
)
_EPSILON: Final = 1e-6


async def admit(session: AsyncSession, key: str, *, per_window: int, window_seconds: float) -> int:
    """0 when admitted (a slot is taken), else the whole seconds until one frees.

    Runs in the caller's transaction and locks the bucket's row until it ends: call it in a
    short transaction of its own (or commit soon), so concurrent callers queue briefly.
    """
    interval = window_seconds / per_window
    ahead = float(await session.scalar(_LOCK, {"key": key}) or 0.0)
    tolerance = window_seconds - interval  # a burst of `per_window`, then one per interval
    if ahead > tolerance + _EPSILON:
        return max(1, math.ceil(ahead - tolerance))
    await session.execute(_ADVANCE, {"key": key, "interval": interval})
    return 0


async def prune(session: AsyncSession, *, idle_seconds: float = 0.0) -> int:
    """Delete every bucket idle for `idle_seconds` past its window (Monica's and ours)."""
    result = await session.execute(_PRUNE, {"idle": idle_seconds})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
