"""The read pool: GETs run without pre-ping or transactions, and survive a dropped connection.

PostgreSQL is not restarted (other suites share it): the gateway's read connections are
terminated with `pg_terminate_backend`, which is what a restart or failover does to them.
"""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from kith_gateway.database import READ_APPLICATION_NAME
from kith_gateway.testing import TestAccount

_READERS = (
    "SELECT pid FROM pg_stat_activity"
    " WHERE datname = current_database() AND application_name = :name"
)


async def _drop_read_connections(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Terminate every read-pool backend and wait until PostgreSQL has let them go."""
    pids = await _readers(sessions)
    async with sessions() as session:
        for pid in pids:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    while await _readers(sessions):
        await asyncio.sleep(0.05)
    return len(pids)


async def _readers(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    """The read pool's backends (a new transaction each time: statistics are snapshotted)."""
    async with sessions() as session:
        return list(await session.scalars(text(_READERS), {"name": READ_APPLICATION_NAME}))


async def test_a_read_is_replayed_on_a_fresh_connection_after_postgresql_drops_the_pool(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert (await client.get("/v1/me", headers=acct.headers("viewer"))).status_code == 200
    assert await _drop_read_connections(sessions) >= 1
    with capture_logs() as logs:
        page = await client.get("/v1/duplicates", headers=acct.headers("viewer"))
    assert page.status_code == 200, page.text
    assert page.json()["data"] == []
    assert [e["event"] for e in logs].count("read_replayed_after_disconnect") == 1
    again = await client.get("/v1/me", headers=acct.headers("viewer"))
    assert again.status_code == 200
