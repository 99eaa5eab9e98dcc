"""Telling a PostgreSQL outage from a failure of the work itself.

During a restart, failover or refused connect, the same work succeeds moments later: the
gateway answers 503 instead of 500, and a consumer waits for the database instead of
spending a message's retry budget on it (a minute of nack delays would dead-letter good
work during any longer outage).
"""

from __future__ import annotations

import asyncio
from typing import TypeGuard

import asyncpg
import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)

# asyncpg's answers while PostgreSQL shuts down, restarts or refuses new sessions.
_SERVER_GOING_AWAY = (
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.TooManyConnectionsError,
)
PROBE_TIMEOUT_SECONDS = 5.0
WAIT_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 10.0)


def is_disconnect(exc: BaseException) -> TypeGuard[DBAPIError]:
    """PostgreSQL dropped the connection (restart, failover, terminated backend)."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def is_unavailable(exc: BaseException) -> bool:
    """The error says PostgreSQL (or another server) cannot be reached now.

    Covers a dropped pooled connection, a refused or timed-out connect (a raw `OSError` or
    `TimeoutError`: SQLAlchemy does not wrap asyncpg's connect errors) and the server's own
    "shutting down" / "starting up" answers (wrapped in `DBAPIError`).
    """
    if is_disconnect(exc):
        return True
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        cause = getattr(orig, "__cause__", None) or orig
        return isinstance(cause, (*_SERVER_GOING_AWAY, OSError, TimeoutError))
    return isinstance(exc, (OSError, TimeoutError))


async def database_answers(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """One `SELECT 1` within a few seconds; any failure is a no."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS), sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception:  # the probe's only question is whether it worked
        return False
    return True


async def wait_for_database(sessions: async_sessionmaker[AsyncSession]) -> float:
    """Return once the database answers again; the seconds waited.

    Polls with growing delays (capped at 10 s), so a fleet of waiting consumers does not
    hammer a server that is starting up. Cancellation (a draining process) ends the wait.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    attempt = 0
    while not await database_answers(sessions):
        await asyncio.sleep(WAIT_DELAYS[min(attempt, len(WAIT_DELAYS) - 1)])
        attempt += 1
    return loop.time() - started
