"""Handlers of detection runs: the full scan command and the import-completed event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.bus.subscribe import MessageContext
from kith_common.errors import InvalidInput
from kith_common.events.payloads.dedup import DedupScanCompleted, ScanDuplicates
from kith_common.events.payloads.imports import ImportCompleted
from kith_common.events.subjects import DEDUP_SCAN_COMPLETED
from kith_dedup.scans import ScanRequest, run_scan

__all__ = ["import_scan_handler", "scan_handler"]

Handler = Callable[[MessageContext[Any]], Awaitable[None]]


def _publisher(ctx: MessageContext[Any]) -> Callable[[AsyncSession, DedupScanCompleted], Any]:
    async def publish(session: AsyncSession, result: DedupScanCompleted) -> None:
        await ctx.publish(DEDUP_SCAN_COMPLETED, result, session=session)

    return publish


def scan_handler(sessions: async_sessionmaker[AsyncSession]) -> Handler:
    async def handle_scan(ctx: MessageContext[ScanDuplicates]) -> None:
        if ctx.envelope.account_id not in (None, ctx.data.account_id):
            raise InvalidInput("envelope and payload name different accounts")
        request = ScanRequest(ctx.envelope.id, ctx.data.account_id, ctx.data.trigger)
        await run_scan(
            request,
            sessions=sessions,
            unit_of_work=ctx.unit_of_work,
            heartbeat=ctx.heartbeat,
            publish=_publisher(ctx),
        )

    return handle_scan


def import_scan_handler(sessions: async_sessionmaker[AsyncSession]) -> Handler:
    async def handle_import_completed(ctx: MessageContext[ImportCompleted]) -> None:
        if ctx.envelope.account_id is None:
            raise InvalidInput("import.completed without an account")
        request = ScanRequest(
            ctx.envelope.id, ctx.envelope.account_id, "import", import_id=ctx.data.import_id
        )
        await run_scan(
            request,
            sessions=sessions,
            unit_of_work=ctx.unit_of_work,
            heartbeat=ctx.heartbeat,
            publish=_publisher(ctx),
        )

    return handle_import_completed
