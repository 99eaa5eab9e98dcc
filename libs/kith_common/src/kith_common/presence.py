"""Which services are running: every Runtime's heartbeat in `service_instances`, and its reading.

Writing (`Heartbeat`): a Runtime records a new instance row when it starts, bumps
`last_seen_at` every `presence_interval_seconds` (one small upsert on its own short
transaction, in a task of its own, so a slow database delays only the next beat and never a
handler) and sets `stopped_at` when it stops cleanly. A crashed process simply stops beating.
Every hundredth beat prunes instances gone for a day, keeping each service's newest row.

Reading (`service_states`): one query over the deployment's rows (a handful: one per process
start within a day). An instance is up while it beat within three of its own intervals; a
*restart* is an instance that started after another instance of the same service had stopped
or gone silent (so replicas starting together are not restarts, and a `kith dev` respawn is).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import uuid
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from kith_common.db.models import ServiceInstance

__all__ = [
    "MISSED_BEATS",
    "Heartbeat",
    "InstanceState",
    "ServiceState",
    "service_states",
]

log = structlog.get_logger(__name__)

MISSED_BEATS = 3  # an instance silent for three of its beats is gone
RETENTION = dt.timedelta(days=1)
RESTART_WINDOW = dt.timedelta(hours=1)
PRUNE_EVERY = 100  # beats
WRITE_TIMEOUT_SECONDS = 5.0


@dataclass
class Heartbeat:
    """One process's presence row: `start` once, `run` as a task, `stop` on a clean stop."""

    sessions: async_sessionmaker[AsyncSession]
    service: str
    stream_prefix: str
    interval: float
    instance_id: uuid.UUID = field(default_factory=uuid.uuid4)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    beats: int = 0

    async def beat(self) -> None:
        """Insert this instance's row, or refresh its `last_seen_at`; prune now and then."""
        row = {
            "instance_id": self.instance_id,
            "stream_prefix": self.stream_prefix,
            "service": self.service,
            "host": self.host,
            "pid": self.pid,
            "beat_seconds": self.interval,
        }
        upsert = insert(ServiceInstance).values(**row)
        upsert = upsert.on_conflict_do_update(
            index_elements=[ServiceInstance.instance_id],
            set_={"last_seen_at": func.now()},
        )
        async with self.sessions() as session, session.begin():
            await session.execute(upsert)
            if self.beats % PRUNE_EVERY == 0:
                await _prune(session, self.stream_prefix)
        self.beats += 1

    async def start(self) -> None:
        """Record the instance; a failure is logged (the next beat records it)."""
        await self._safely(self.beat())

    async def run(self) -> None:
        """Beat every `interval` seconds until cancelled; a failed beat is logged, not raised."""
        while True:
            await asyncio.sleep(self.interval)
            await self._safely(self.beat())

    async def stop(self) -> None:
        """Mark the instance stopped, so readers see it gone at once rather than after beats."""
        mark = (
            update(ServiceInstance)
            .where(ServiceInstance.instance_id == self.instance_id)
            .values(stopped_at=func.now(), last_seen_at=func.now())
        )

        async def write() -> None:
            async with self.sessions() as session, session.begin():
                await session.execute(mark)

        await self._safely(write())

    async def _safely(self, work: Awaitable[None]) -> None:
        try:
            await asyncio.wait_for(work, WRITE_TIMEOUT_SECONDS)
        except Exception as err:  # presence must never stop the service
            kind = type(err).__name__
            log.warning("presence_write_failed", service=self.service, error_type=kind)


async def _prune(session: AsyncSession, stream_prefix: str) -> None:
    """Delete instances silent for a day, except each service's newest."""
    si = ServiceInstance
    later = aliased(ServiceInstance)
    newer_exists = (
        select(later.instance_id)
        .where(
            later.stream_prefix == si.stream_prefix,
            later.service == si.service,
            later.started_at > si.started_at,
        )
        .exists()
    )
    await session.execute(
        delete(si).where(
            si.stream_prefix == stream_prefix,
            si.last_seen_at < func.now() - RETENTION,
            newer_exists,
        )
    )


@dataclass(frozen=True, slots=True)
class InstanceState:
    """One running process of a service (host and pid are for operators only)."""

    host: str
    pid: int
    started_at: dt.datetime
    last_seen_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ServiceState:
    """A service as the console shows it.

    Attributes:
        service: Its name (`gateway`, `importer`, ...).
        seen: Whether any instance ever recorded itself (within the retention).
        running: Whether an instance beat recently and has not stopped.
        started_at: When the running instance started (the oldest, with replicas), or when
            the last one did.
        last_seen_at: The newest beat of any instance.
        unseen_seconds: Seconds since that beat, when not running.
        restarts: Restarts in the last hour.
        restarted_at: The newest restart within the hour, if any.
        instances: The running instances.
    """

    service: str
    seen: bool
    running: bool
    started_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    unseen_seconds: int | None
    restarts: int
    restarted_at: dt.datetime | None
    instances: tuple[InstanceState, ...]


def _alive(row: ServiceInstance, now: dt.datetime) -> bool:
    silent = dt.timedelta(seconds=row.beat_seconds * MISSED_BEATS)
    return row.stopped_at is None and row.last_seen_at >= now - silent


def _ended(row: ServiceInstance) -> dt.datetime:
    """When an instance was last known alive (its clean stop, or its last beat)."""
    return row.stopped_at or row.last_seen_at


def _state(service: str, rows: Sequence[ServiceInstance], now: dt.datetime) -> ServiceState:
    if not rows:
        return ServiceState(service, False, False, None, None, None, 0, None, ())
    alive = [r for r in rows if _alive(r, now)]
    restarts = [
        n.started_at
        for n in rows
        if n.started_at >= now - RESTART_WINDOW
        and any(o.started_at < n.started_at and _ended(o) <= n.started_at for o in rows)
    ]
    last_seen = max(r.last_seen_at for r in rows)
    started = min(r.started_at for r in alive) if alive else max(r.started_at for r in rows)
    return ServiceState(
        service=service,
        seen=True,
        running=bool(alive),
        started_at=started,
        last_seen_at=last_seen,
        unseen_seconds=None if alive else max(0, int((now - last_seen).total_seconds())),
        restarts=len(restarts),
        restarted_at=max(restarts) if restarts else None,
        instances=tuple(
            InstanceState(r.host, r.pid, r.started_at, r.last_seen_at)
            for r in sorted(alive, key=lambda r: r.started_at)
        ),
    )


async def service_states(
    session: AsyncSession, stream_prefix: str, services: Iterable[str]
) -> tuple[dt.datetime, list[ServiceState]]:
    """The database's now and the state of each of `services`, in the order given.

    Runtimes of other names (a test's worker) record themselves too but are not shown.
    """
    now = await session.scalar(select(func.now()))
    assert now is not None
    rows = (
        await session.scalars(
            select(ServiceInstance).where(ServiceInstance.stream_prefix == stream_prefix)
        )
    ).all()
    return now, [_state(name, [r for r in rows if r.service == name], now) for name in services]
