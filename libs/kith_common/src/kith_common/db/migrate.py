"""Apply the Alembic history: `kith migrate`, the migrate Job, test fixtures.

`migrate` is idempotent and safe to run concurrently (two pods, two test sessions): it takes
a session-level advisory lock on a fixed key before upgrading, so a second caller waits, then
finds the schema at head and does nothing.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from kith_common.db.session import async_url, create_engine

__all__ = [
    "MIGRATION_LOCK_KEY",
    "alembic_config",
    "current_revision",
    "head_revision",
    "migrate",
]

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"
# pg_advisory_lock key of the migration (any fixed bigint; "kith_mig" in ASCII).
MIGRATION_LOCK_KEY = 0x6B6974685F6D6967

# Alembic's `context` is a module-level proxy: two upgrades interleaving in one process (even
# on different databases) would share it. One upgrade at a time per event loop.
_LOCAL_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _local_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _LOCAL_LOCKS.get(loop)
    if lock is None:
        lock = _LOCAL_LOCKS[loop] = asyncio.Lock()
    return lock


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic Config built in code (there is no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if database_url is not None:
        # `%` would be read as interpolation by configparser.
        config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The head of the migration history shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the history always has a revision
        msg = "the migration history is empty"
        raise RuntimeError(msg)
    return head


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(database_url: str) -> str:
    """Upgrade the database to head; returns the head revision.

    Holds `pg_advisory_lock(MIGRATION_LOCK_KEY)` on the migration connection for the duration,
    so concurrent callers (pods, processes) run one after the other and the later ones find
    nothing to do. The upgrade runs in one transaction (PostgreSQL DDL is transactional), so a
    failure leaves the previous revision in place.

    Args:
        database_url: any postgresql URL; the asyncpg driver is pinned.

    Returns:
        The head revision, which the database is now at.
    """
    config = alembic_config(database_url)
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        async with _local_lock(), engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            await connection.commit()
            await connection.run_sync(_upgrade, config)
            await connection.commit()
            revision = await connection.run_sync(_current)
            # On an error the lock goes with the connection (NullPool closes it).
            await connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            await connection.commit()
    finally:
        await engine.dispose()
    head = head_revision()
    if revision != head:  # pragma: no cover - upgrade raises first
        msg = f"database at {revision}, expected {head}"
        raise RuntimeError(msg)
    return head
