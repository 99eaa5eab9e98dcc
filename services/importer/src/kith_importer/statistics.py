"""Planner statistics for the tables a first import grows, refreshed as the import doubles.

Every listing step looks its contacts up in `import_records` by (account, source, type, id)
and deletes staged rows by (import, kind, key). While an account's rows are newer than the
table's statistics — a first import into a fresh database, before autovacuum's next pass a
minute or more later, or any database with autovacuum off — PostgreSQL estimates the account
at one row, reads the smaller (account, local type, local id) index and filters every row of
the account at each step, so the listing slows down as it goes: at 10,000 contacts the
1,390 lookups took 4.7–4.9 s of a 25 s import (docs/performance.md). An ANALYZE each time the
import's contact count doubles keeps the estimate within a factor of two of the truth, in
log2(n) passes of ~0.15 s of database time, run beside the crawl rather than in its way.

A role that does not own the tables gets a warning from PostgreSQL and no refresh; the import
is unaffected either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

__all__ = ["PlannerStatistics"]

log = structlog.get_logger(__name__)

_ANALYZE = text("ANALYZE import_records, import_staging")


class PlannerStatistics:
    """Starts one background ANALYZE each time `grew_to` passes the next doubling."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], first_at: int) -> None:
        self._sessions = sessions
        self._next = first_at
        self._task: asyncio.Task[None] | None = None

    def grew_to(self, contacts: int) -> None:
        """The import has written `contacts` contacts; refresh if that passed the threshold."""
        if self._next <= 0 or contacts < self._next:
            return
        if self._task is not None and not self._task.done():
            return  # the running pass will see these rows too; the next doubling asks again
        self._next = contacts * 2
        self._task = asyncio.create_task(self._analyze(contacts), name="import-analyze")

    async def aclose(self) -> None:
        """Wait for a running pass: it is short, and a cancelled ANALYZE would be wasted."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def _analyze(self, contacts: int) -> None:
        started = time.monotonic()
        try:
            async with self._sessions() as session, session.begin():
                await session.execute(_ANALYZE)
        except Exception as err:  # statistics are an optimisation: never fail the import
            log.warning("import_analyze_failed", error=f"{type(err).__name__}: {err}")
            return
        log.debug(
            "import_analyzed", contacts=contacts, seconds=round(time.monotonic() - started, 3)
        )
