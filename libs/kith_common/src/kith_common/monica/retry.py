"""The one retry layer of Kith's requests to Monica and to the hosts its documents live on
(importer.md §5).

- Transient = 429, 408, 5xx, timeouts and connection errors: retried up to `max_retries` times
  with full-jitter backoff (`backoff_base` · 2ⁿ, capped at `backoff_cap`).
- A 429 waits its `Retry-After` instead (`default_retry_after` when absent or unreadable),
  through the `pause` of whoever the 429 came from: the shared Monica bucket (every phase and
  replica waits) or one foreign file host. A Retry-After longer than `max_retry_after` (120 s
  by default) is not waited for: `MonicaRetryLater` at once, a reason the user can act on,
  instead of a worker held for an hour.
- With an `interrupt` event (the import's cancel sets it), a backoff, a pause and anything run
  through `interruptible` stop at once with `MonicaInterrupted`.
- Anything else is the attempt's own result or error, returned or raised at once.

`MonicaClient.get_json` and the photos service's document downloads run their attempts through
`with_retries` with the same `RetryPolicy` (the client's `retry`), so there is one retry layer
and one set of numbers: callers never retry on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from kith_common.monica.errors import (
    MonicaError,
    MonicaInterrupted,
    MonicaRetryLater,
    MonicaUnavailable,
)

__all__ = [
    "DEFAULT_MAX_RETRY_AFTER",
    "DEFAULT_RETRY_AFTER",
    "Pause",
    "Retry",
    "RetryPolicy",
    "interruptible",
    "transient_status",
    "with_retries",
]

DEFAULT_RETRY_AFTER: Final = 60.0
DEFAULT_MAX_RETRY_AFTER: Final = 120.0
_LONGEST_READ_RETRY_AFTER: Final = 3600.0  # what a header can say at most, as read

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
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER

    def backoff(self, retry: int) -> float:
        """Seconds before retry number `retry` (from 0): full jitter, so replicas spread out."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2**retry)
        return random.uniform(0, ceiling)  # jitter, not a secret

    def retry_after(self, value: str | None) -> float:
        """Seconds a 429's `Retry-After` header asks for, within [0, 3600]; whether to wait
        that long is `with_retries`' decision (`max_retry_after`)."""
        if value is None:
            return self.default_retry_after
        try:
            seconds = float(value)
        except ValueError:
            return self.default_retry_after
        if seconds != seconds:  # NaN
            return self.default_retry_after
        return max(0.0, min(seconds, _LONGEST_READ_RETRY_AFTER))


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
    interrupt: asyncio.Event | None = None,
) -> T:
    """Run `attempt` until it returns, raises anything but `Retry`, or retries run out.

    Raises:
        MonicaUnavailable: the last attempt's error, still transient after every retry.
        MonicaRetryLater: a 429 asked for a wait longer than `policy.max_retry_after`.
        MonicaInterrupted: `interrupt` was set during a backoff or a pause.
    """
    last: Retry | None = None
    for number in range(policy.max_retries + 1):
        if number and on_retry is not None:
            on_retry()
        try:
            return await attempt()
        except Retry as retry:
            last = retry
            if retry.wait is not None and retry.wait > policy.max_retry_after:
                raise MonicaRetryLater(
                    _too_long_wait(retry, policy.max_retry_after), status=429
                ) from None
            if number >= policy.max_retries:
                break
            if retry.wait is not None:
                await interruptible((retry.pause or pause)(retry.wait), interrupt)
            else:
                await interruptible(sleep(policy.backoff(number)), interrupt)
    assert last is not None
    raise MonicaUnavailable(
        f"{last.error.message} (gave up after {policy.max_retries} retries)",
        status=last.error.status,
    )


async def interruptible(work: Awaitable[T], interrupt: asyncio.Event | None) -> T:
    """Run `work` unless `interrupt` is set first; then stop it and raise MonicaInterrupted.

    A read in progress is cancelled too, not only waits: a cancelled import must not wait for a
    server that never answers.
    """
    if interrupt is None:
        return await work
    if interrupt.is_set():
        if inspect.iscoroutine(work):
            work.close()
        raise MonicaInterrupted("the request was stopped: the import is stopping")
    task = asyncio.ensure_future(work)
    waker = asyncio.ensure_future(interrupt.wait())
    try:
        await asyncio.wait({task, waker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waker.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        raise MonicaInterrupted("the request was stopped: the import is stopping")
    return task.result()


def _too_long_wait(retry: Retry, cap: float) -> str:
    return (
        f"{retry.error.message.removesuffix(' (429)')}: Monica asked to wait {retry.wait:g} s, "
        f"longer than the {cap:g} s the importer waits; start the import again later"
    )
