"""The outbox relay: publishes committed outbox rows to JetStream, in every service process.

Rows are taken `FOR UPDATE SKIP LOCKED` inside one transaction that stays open while they are
published and is committed with `sent_at` set. A relay that dies mid-batch releases its row
locks with its connection, so another relay (or itself after restart) publishes the rows
again; JetStream drops the second copy because `Nats-Msg-Id` is the envelope id. The relay is
woken by `LISTEN/NOTIFY` and also polls, so a missed notification only delays a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from nats.js import JetStreamContext
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import metrics
from kith_common.bus.outbox import NOTIFY_CHANNEL
from kith_common.bus.streams import StreamLayout
from kith_common.db.models import Inbox, Outbox

log = structlog.get_logger(__name__)

SENT_ROW_RETENTION = dt.timedelta(days=1)
JANITOR_INTERVAL_SECONDS = 600.0
BACKLOG_INTERVAL_SECONDS = 5.0


def asyncpg_dsn(database_url: str) -> str:
    """The plain libpq URL asyncpg wants, from the SQLAlchemy one."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def retry_delay(attempts: int) -> float:
    """Back off a row that failed to publish: 1 s, 2 s, 4 s ... capped at 60 s."""
    return float(min(60, 2 ** max(0, attempts - 1)))


class OutboxRelay:
    """One relay loop; run it as a task and `stop()` it on shutdown."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        layout: StreamLayout,
        database_url: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        publish_timeout: float = 5.0,
        inbox_retention_days: int = 8,
        subjects: frozenset[str] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._js = js
        self._layout = layout
        self._dsn = asyncpg_dsn(database_url)
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._publish_timeout = publish_timeout
        self._inbox_retention = dt.timedelta(days=inbox_retention_days)
        # Under NATS authentication a relay takes only the rows its user may publish; another
        # service's relay publishes the rest (without authentication, any relay takes any row).
        self._subjects = subjects
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._last_backlog = 0.0
        self._last_janitor = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Relay until stopped; database or NATS outages are retried, never fatal."""
        await self._listen()
        try:
            while not self._stopping.is_set():
                try:
                    sent = await self.relay_once()
                    await self._housekeeping()
                except Exception as err:
                    # Anything a pass meets is retried, never fatal: a database restart
                    # surfaces as SQLAlchemy's DBAPIError, not only asyncpg's or OSError,
                    # and a relay that died on it would leave its rows unpublished for good.
                    log.warning(
                        "outbox_relay_pass_failed", error=str(err), error_type=type(err).__name__
                    )
                    sent = 0
                    await self._listen()
                if sent >= self._batch_size:
                    continue
                await self._sleep()
        finally:
            await self._unlisten()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def relay_once(self) -> int:
        """Publish one batch of due rows; return how many were sent."""
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(Outbox.id, Outbox.subject, Outbox.envelope, Outbox.attempts)
                    .where(
                        Outbox.stream_prefix == self._layout.prefix,
                        Outbox.sent_at.is_(None),
                        Outbox.available_at <= func.now(),
                        *(() if self._subjects is None else (Outbox.subject.in_(self._subjects),)),
                    )
                    .order_by(Outbox.seq)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            results = await asyncio.gather(
                *(self._publish(row.subject, row.id, row.envelope) for row in rows),
                return_exceptions=True,
            )
            sent = [row.id for row, res in zip(rows, results, strict=True) if res is None]
            failed = [
                (row, res)
                for row, res in zip(rows, results, strict=True)
                if isinstance(res, BaseException)
            ]
            if sent:
                await session.execute(
                    update(Outbox)
                    .where(Outbox.id.in_(sent))
                    .values(sent_at=func.now(), attempts=Outbox.attempts + 1)
                )
            await self._record_failures(session, failed)
        metrics.OUTBOX_PUBLISHED.inc(len(sent))
        return len(sent)

    async def _publish(self, subject: str, msg_id: Any, envelope: dict[str, Any]) -> None:
        await self._js.publish(
            self._layout.subject(subject),
            json.dumps(envelope, separators=(",", ":")).encode(),
            timeout=self._publish_timeout,
            headers={"Nats-Msg-Id": str(msg_id)},
        )

    async def _record_failures(
        self, session: AsyncSession, failed: Sequence[tuple[Any, BaseException]]
    ) -> None:
        for row, err in failed:
            attempts = row.attempts + 1
            await session.execute(
                update(Outbox)
                .where(Outbox.id == row.id)
                .values(
                    attempts=attempts,
                    last_error=f"{type(err).__name__}: {err}"[:500],
                    available_at=func.now() + dt.timedelta(seconds=retry_delay(attempts)),
                )
            )
        if failed:
            metrics.OUTBOX_FAILURES.inc(len(failed))
            log.warning(
                "outbox_publish_failed", count=len(failed), error=str(failed[0][1]) or "timeout"
            )

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_backlog >= BACKLOG_INTERVAL_SECONDS:
            self._last_backlog = now
            async with self._sessions() as session:
                count, oldest = (
                    await session.execute(
                        select(func.count(), func.min(Outbox.created_at)).where(
                            Outbox.stream_prefix == self._layout.prefix,
                            Outbox.sent_at.is_(None),
                        )
                    )
                ).one()
            metrics.OUTBOX_BACKLOG.set(count)
            age = (dt.datetime.now(dt.UTC) - oldest).total_seconds() if oldest else 0.0
            metrics.OUTBOX_OLDEST_AGE.set(max(0.0, age))
        if now - self._last_janitor >= JANITOR_INTERVAL_SECONDS:
            self._last_janitor = now
            cutoff = dt.datetime.now(dt.UTC)
            async with self._sessions() as session, session.begin():
                await session.execute(
                    delete(Outbox).where(
                        Outbox.sent_at.is_not(None), Outbox.sent_at < cutoff - SENT_ROW_RETENTION
                    )
                )
                await session.execute(
                    delete(Inbox).where(Inbox.processed_at < cutoff - self._inbox_retention)
                )

    async def _sleep(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval)
        self._wake.clear()

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(self._dsn, timeout=5)
            await self._listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except (TimeoutError, OSError, asyncpg.PostgresError) as err:
            # Polling still delivers; the next failed pass retries the LISTEN.
            log.warning("outbox_listen_failed", error=str(err))
            self._listener = None

    async def _unlisten(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=2)
            self._listener = None

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()
