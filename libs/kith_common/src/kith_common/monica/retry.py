"""The one retry layer of Kith's requests to Monica and to the hosts its documents live on
(importer.md §5).

- Transient = 429, 408, 5xx, timeouts and connection errors: retried up to `max_retries` times
  with full-jitter backoff (`backoff_base` · 2ⁿ, capped at `backoff_cap`).
- A 429 waits its `Retry-After` instead (`default_retry_after` when absent or unreadable,
  never more than `max_retry_after`), through the `pause` of whoever the 429 came from: the
  shared Monica bucket (every phase and replica waits) or one foreign file host.
- Anything else is the attempt's own result or error, returned or raised at once.

`MonicaClient.get_json` and the photos service's document downloads run their attempts through
`with_retries` with the same `RetryPolicy` (the client's `retry`), so there is one retry layer
and one set of numbers: callers never retry on their own.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from kith_common.monica.errors import MonicaError, MonicaUnavailable

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "Pause",
    "Retry",
    "RetryPolicy",
    "transient_status",
    "with_retries",
]

DEFAULT_RETRY_AFTER: Final = 60.0

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Pause = Callable[[float], Awaitable[None]]
"""Hold every request to one place for a server's Retry-After seconds."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried (importer.md §5)."""

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    default_retry_after: float = DEFAULT_RETRY_AFTER
    max_retry_after: float = 3600.0

    def backoff(self, retry: int) -> float:
        """Seconds before retry number `retry` (from 0): full jitter, so replicas spread out."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2**retry)
        return random.uniform(0, ceiling)  # jitter, not a secret

    def retry_after(self, value: str | None) -> float:
        """Seconds a 429's `Retry-After` header asks for, within [0, `max_retry_after`]."""
        if value is None:
            return self.default_retry_after
        try:
            seconds = float(value)
        except ValueError:
            return self.default_retry_after
        if seconds != seconds:  # NaN
            return self.default_retry_after
        return max(0.0, min(seconds, self.max_retry_after))


def transient_status(status: int) -> bool:
    """A status worth retrying: 408, 429 or any 5xx."""
    return status in (408, 429) or status >= 500


class Retry(Exception):
    """An attempt failed transiently (control flow inside `with_retries`, never escapes it).

    `error` is what the caller sees once retries run out; `wait` is a 429's Retry-After, to be
    waited through `pause` (the attempt's own place) or, when None, `with_retries`' `pause`.
    """

    def __init__(
        self, error: MonicaError, *, wait: float | None = None, pause: Pause | None = None
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait
        self.pause = pause


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    pause: Pause,
    sleep: Sleep = asyncio.sleep,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """Run `attempt` until it returns, raises anything but `Retry`, or retries run out.

    Raises:
        MonicaUnavailable: the last attempt's error, still transient after every retry.
    """
    last: Retry | None = None
    for number in range(policy.max_retries + 1):
        if number and on_retry is not None:
            on_retry()
        try:
            return await attempt()
        except Retry as retry:
            last = retry
            if number >= policy.max_retries:
                break
            if retry.wait is not None:
                await (retry.pause or pause)(retry.wait)
            else:
                await sleep(policy.backoff(number))
    assert last is not None
    raise MonicaUnavailable(
        f"{last.error.message} (gave up after {policy.max_retries} retries)",
        status=last.error.status,
    )
