"""`kith.evt.import.completed` and `kith.cmd.photos.sync` → the media phase (importer.md §9)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.bus.consumers import ConsumerSpec
from kith_common.bus.subscribe import Handler, MessageContext
from kith_common.events.envelope import Payload
from kith_common.events.payloads.imports import ImportCompleted
from kith_common.events.payloads.photos import SyncPhotos
from kith_common.storage import Storage
from kith_photos.hosts import HostGates
from kith_photos.sync import MediaEnv, MediaLimits, run_media_phase

__all__ = ["MediaDeps", "import_completed_handler", "sync_command_handler"]


@dataclass(frozen=True, slots=True)
class MediaDeps:
    """What the media handlers share across messages (built once in `build_app`)."""

    storage: Storage
    sessions: async_sessionmaker[AsyncSession]
    limits: MediaLimits
    hosts: HostGates


def _env(ctx: MessageContext[Any], deps: MediaDeps) -> MediaEnv:
    async def publish(session: AsyncSession, subject: str, data: Payload) -> None:
        await ctx.publish(subject, data, session=session)

    return MediaEnv(
        unit_of_work=ctx.unit_of_work,
        publish=publish,
        heartbeat=ctx.heartbeat,
        sessions=deps.sessions,
        storage=deps.storage,
        limits=deps.limits,
        hosts=deps.hosts,
    )


def import_completed_handler(spec: ConsumerSpec, deps: MediaDeps) -> Handler:
    async def handle(ctx: MessageContext[ImportCompleted]) -> None:
        data = ctx.data
        if data.source != "monica_api" or not (data.options.photos or data.options.documents):
            return  # not asked for: the media phase sends no request at all
        await run_media_phase(
            _env(ctx, deps),
            import_id=data.import_id,
            generation=ctx.envelope.generation,
            last_attempt=ctx.deliveries >= spec.max_deliver,
        )

    return handle


def sync_command_handler(spec: ConsumerSpec, deps: MediaDeps) -> Handler:
    async def handle(ctx: MessageContext[SyncPhotos]) -> None:
        await run_media_phase(
            _env(ctx, deps),
            import_id=ctx.data.import_id,
            generation=ctx.envelope.generation,
            last_attempt=ctx.deliveries >= spec.max_deliver,
        )

    return handle
