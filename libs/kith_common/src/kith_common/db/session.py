"""Engine and session factory (asyncpg).

Built by `build_app` or the CLI, never at import. One `AsyncSession` per message or request,
opened at the boundary; `expire_on_commit=False` so objects stay readable after the commit
without lazy IO.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

__all__ = [
    "PUBLISHES_INFO_KEY",
    "STREAM_PREFIX_INFO_KEY",
    "async_url",
    "create_engine",
    "session_factory",
]

STREAM_PREFIX_INFO_KEY = "stream_prefix"
PUBLISHES_INFO_KEY = "publishes"


def async_url(database_url: str) -> str:
    """`database_url` with the asyncpg driver (operators paste plain `postgresql://` URLs)."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+asyncpg")
    return url.render_as_string(hide_password=False)


def create_engine(database_url: str, **kw: Any) -> AsyncEngine:
    """An asyncpg engine with `pool_pre_ping` (connections survive a database restart)."""
    kw.setdefault("pool_pre_ping", True)
    return _create_async_engine(async_url(database_url), **kw)


def session_factory(
    engine: AsyncEngine, *, stream_prefix: str = "", publishes: frozenset[str] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (no lazy IO in async code).

    `stream_prefix` rides in `session.info` so the outbox tags each row with the deployment
    it belongs to; a relay publishes only its own prefix's rows (see `bus.outbox.add`).
    `publishes`, a service's declared subjects, makes `bus.outbox.add` refuse any other.
    """
    info: dict[str, Any] = {STREAM_PREFIX_INFO_KEY: stream_prefix}
    if publishes is not None:
        info[PUBLISHES_INFO_KEY] = publishes
    return async_sessionmaker(engine, expire_on_commit=False, info=info)
