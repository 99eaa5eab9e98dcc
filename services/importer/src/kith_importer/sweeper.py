"""The periodic import sweeper (importer.md §3, §10), run by every importer process.

It also prunes idle `rate_limits` buckets (Monica's and the gateway's connection-check limit).

Every pass is one short transaction; running it in several replicas at once is harmless (each
UPDATE is conditional, so a row is moved once). Failures are logged and retried next pass.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import imports, throttle
from kith_importer import metrics

__all__ = ["SWEEP_SECONDS", "Sweeper"]

log = structlog.get_logger(__name__)
SWEEP_SECONDS = 300.0


class Sweeper:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        key_ttl_hours: int,
        interval: float = SWEEP_SECONDS,
        rate_window: float = 60.0,
    ) -> None:
        self._sessions = sessions
        self._key_ttl_hours = key_ttl_hours
        self._rate_window = rate_window
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self) -> imports.SweepResult:
        async with self._sessions() as session, session.begin():
            result = await imports.sweep(session, key_ttl_hours=self._key_ttl_hours)
            # Rate-limit buckets idle past their window are the same as no row: a flood of
            # connection checks with made-up keys would otherwise leave one row each forever.
            pruned = await throttle.prune(session, idle_seconds=self._rate_window)
        metrics.imports_swept(len(result.key_expired) + len(result.stalled), len(result.cancelled))
        if pruned:
            log.info("rate_limits_pruned", rows=pruned)
        if result.key_expired or result.stalled or result.cancelled:
            log.warning(
                "imports_swept",
                key_expired=len(result.key_expired),
                stalled=len(result.stalled),
                cancelled=len(result.cancelled),
            )
        return result

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception as err:  # retried next pass; the sweep is idempotent
                log.warning("imports_sweep_failed", error=type(err).__name__)
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="import-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
