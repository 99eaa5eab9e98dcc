"""A short-lived, per-process cache of token hash → the principal behind it.

Without it every API request costs two queries: the token lookup, then the work. With it a
read is one query for as long as the entry lives.

What a stale entry can do, and for how long (decided for issue #3):

- Changes made through this process (revoking a token, disabling, deleting or re-roling a
  user, from the API or the console) call `forget_all()` after their commit: immediate here.
- Changes made elsewhere (another gateway replica, `kith admin` on the command line, SQL)
  reach this process when its entry expires: a revoked token, a disabled user or a lowered
  role keeps working here for at most `TTL_SECONDS` (5 s). An entry never outlives the
  token's own `expires_at`.
- Only hits are cached: an unknown, revoked or expired token always goes to the database, so
  a new token works at once and guessing gains nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

TTL_SECONDS: Final = 5.0
MAX_ENTRIES: Final = 10_000

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[P]):
    principal: P
    until: float


class PrincipalCache(Generic[P]):
    """token hash → principal, each entry living `ttl` seconds (monotonic clock)."""

    def __init__(
        self,
        ttl: float = TTL_SECONDS,
        *,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[bytes, _Entry[P]] = {}

    def get(self, token_hash: bytes) -> P | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry.until <= self.clock():
            self._entries.pop(token_hash, None)
            return None
        return entry.principal

    def put(self, token_hash: bytes, principal: P, *, expires_at: dt.datetime | None) -> None:
        """Remember `principal` for `ttl` seconds, or until the token expires if sooner."""
        if self.ttl <= 0:
            return
        now = self.clock()
        until = now + self.ttl
        if expires_at is not None:
            left = (expires_at - dt.datetime.now(dt.UTC)).total_seconds()
            until = min(until, now + left)
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # rare (10,000 live tokens in 5 s); refilling is cheap
        self._entries[token_hash] = _Entry(principal, until)

    def forget_all(self) -> None:
        self._entries.clear()
