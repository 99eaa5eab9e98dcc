"""Handlers of the import commands and the connection-check request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.bus.subscribe import MessageContext
from kith_common.events import subjects
from kith_common.events.payloads.imports import CancelImport, CheckConnection, StartImport
from kith_common.events.registry import build_reply, parse_envelope
from kith_common.storage import Storage
from kith_importer import runner
from kith_importer.config import ImporterConfig
from kith_importer.connection import BUSY, check_connection
from kith_importer.vcard.runner import run_if_vcard

__all__ = ["make_cancel", "make_check", "make_start"]


def make_start(
    config: ImporterConfig,
    sessions: async_sessionmaker[AsyncSession],
    storage: Storage | None = None,
) -> Callable[[MessageContext[StartImport]], Awaitable[None]]:
    async def start(ctx: MessageContext[StartImport]) -> None:
        if await run_if_vcard(ctx, config, sessions, storage):
            return  # a vCard upload (importer.md §12)
        await runner.run_import(ctx, config, sessions)

    return start


async def cancel(ctx: MessageContext[CancelImport]) -> None:
    # The status is already `cancelling` (the cancel function); a crawl of this process that
    # waits on the limiter wakes now, one elsewhere at its next heartbeat (≤ 5 s).
    runner.wake(ctx.data.import_id)


def make_cancel() -> Callable[[MessageContext[CancelImport]], Awaitable[None]]:
    return cancel


def make_check(
    config: ImporterConfig, sessions: async_sessionmaker[AsyncSession]
) -> Callable[[bytes], Awaitable[bytes]]:
    # Each request runs in its own task (the runtime's responder): bound them, and answer
    # "busy" at once beyond the bound instead of queueing work nobody waits for after 15 s.
    running = asyncio.Semaphore(config.check_concurrency)

    async def answer(body: bytes) -> bytes:
        request = parse_envelope(subjects.RPC_IMPORT_CHECK_CONNECTION, body)
        assert isinstance(request.data, CheckConnection)
        if running.locked():
            reply = BUSY
        else:
            async with running:
                reply = await check_connection(sessions, config, request.data.check_id)
        envelope = build_reply(subjects.RPC_IMPORT_CHECK_CONNECTION, reply, request=request)
        return envelope.model_dump_json().encode()

    return answer
