"""Who runs an import's misc phase: a session-level PostgreSQL advisory lock.

The lock is held on one connection for the whole run. PostgreSQL frees it when that connection
ends, so a process killed mid-phase (kill -9, OOM, a lost host) frees it at once; a redelivery
that finds it free knows the recorded owner is dead and takes over without waiting for a lease
to go stale, while a redelivery that finds it taken backs off (two live processes never run
one phase). Each page transaction also checks the checkpoint's owner, so a process that lost
its lock connection and was taken over stops before writing anything more.
"""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["PhaseLock", "lock_key"]

log = structlog.get_logger(__name__)
_NAMESPACE = "kith.importer.misc:"


def lock_key(import_id: int) -> Any:
    """The lock's bigint key, as SQL (a hash, like the dedup service's account locks)."""
    return func.hashtextextended(f"{_NAMESPACE}{import_id}", 0)


class PhaseLock:
    """`pg_try_advisory_lock` on a connection of its own, outside any transaction."""

    def __init__(self, engine: AsyncEngine, import_id: int) -> None:
        self._engine = engine
        self._import_id = import_id
        self._conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        """True when this process now holds the phase; False when a live one does."""
        conn = await self._engine.connect()
        try:
            # AUTOCOMMIT: the lock outlives transactions, and an idle open transaction would
            # hold back vacuum for the whole phase.
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = bool(
                await conn.scalar(select(func.pg_try_advisory_lock(lock_key(self._import_id))))
            )
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.scalar(select(func.pg_advisory_unlock(lock_key(self._import_id))))
        except Exception as err:  # a broken connection: its session, and the lock, are gone
            log.warning("misc_lock_release_failed", error=type(err).__name__)
            with contextlib.suppress(Exception):
                await conn.invalidate()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
