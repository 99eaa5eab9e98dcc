"""Politeness toward file hosts other than Monica (S3, a CDN) that document links point to.

Monica's own origin is paced by the shared rate limiter (importer.md §5); a foreign host is
not Monica's business and must not spend Monica's budget, but it still deserves restraint:
at most `concurrency` requests to it at once from this process, and a 429's `Retry-After`
holds every request to it until the time has passed. One `HostGates` lives as long as the
service process (built in `build_app`), so concurrent imports share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

__all__ = ["FOREIGN_HOST_CONCURRENCY", "HostGate", "HostGates"]

FOREIGN_HOST_CONCURRENCY: Final = 4

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class HostGate:
    """One foreign origin: a bound on requests in flight, and a pause a 429 can set."""

    concurrency: int = FOREIGN_HOST_CONCURRENCY
    sleep: Sleep = asyncio.sleep
    _slots: asyncio.Semaphore = field(init=False)
    _resume_at: float = 0.0

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold one of the host's slots for one request, once any pause has ended."""
        async with self._slots:
            while (wait := self._resume_at - time.monotonic()) > 0:
                await self.sleep(wait)
            yield

    async def pause(self, seconds: float) -> None:
        """The host answered 429: no request to it starts for `seconds`."""
        self._resume_at = max(self._resume_at, time.monotonic() + seconds)


@dataclass
class HostGates:
    """The gates of every foreign origin this process has downloaded from."""

    concurrency: int = FOREIGN_HOST_CONCURRENCY
    sleep: Sleep = asyncio.sleep
    _gates: dict[str, HostGate] = field(default_factory=dict)

    def __getitem__(self, origin: str) -> HostGate:
        gate = self._gates.get(origin)
        if gate is None:
            gate = self._gates[origin] = HostGate(self.concurrency, self.sleep)
        return gate
