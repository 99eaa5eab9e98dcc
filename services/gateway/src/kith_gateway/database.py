"""The gateway's read pool: what a GET needs from PostgreSQL, in one round trip per query.

Reads are the gateway's hot path (a duplicates page is one indexed query), and the runtime's
engine spends more round trips around each query than on it: a pre-ping `SELECT 1` at every
checkout, then BEGIN and ROLLBACK around a request that writes nothing. GET and HEAD requests
therefore use their own engine:

- autocommit: no BEGIN/ROLLBACK. Under READ COMMITTED every statement takes its own snapshot
  even inside a transaction, so a read request sees exactly what it saw before. The only
  write a GET makes (a token's `last_used_at`, once a minute) is a single statement.
- no pre-ping: a connection the server dropped (restart, failover, idle kill) fails on first
  use instead; SQLAlchemy then invalidates the whole pool, and `GatewayMiddleware` replays
  the GET once on a fresh connection. `pool_recycle` retires connections before common idle
  timeouts close them.
- `application_name`, so operators can tell the gateway's readers in `pg_stat_activity`.

Requests that write keep the runtime's engine (pre-ping, transactions): they are rare, and a
write is never replayed.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kith_common.db.session import create_engine, session_factory
from kith_common.settings import Settings

READ_APPLICATION_NAME = "kith-gateway-reads"
RECYCLE_SECONDS = 600


def read_engine(settings: Settings) -> AsyncEngine:
    """An autocommit engine without pre-ping; connects lazily (nothing at build time)."""
    return create_engine(
        settings.database_url,
        pool_pre_ping=False,
        pool_recycle=RECYCLE_SECONDS,
        isolation_level="AUTOCOMMIT",
        connect_args={"server_settings": {"application_name": READ_APPLICATION_NAME}},
    )


def read_sessions(engine: AsyncEngine, settings: Settings) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine, stream_prefix=settings.stream_prefix)
