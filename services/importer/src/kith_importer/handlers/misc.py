"""Handler of `kith.evt.import.completed`: the importer's misc-data phase (importer.md §8)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.bus.subscribe import MessageContext
from kith_common.events.payloads.imports import ImportCompleted
from kith_importer.config import ImporterConfig
from kith_importer.misc.phase import run_misc

__all__ = ["make_misc"]


def make_misc(
    config: ImporterConfig, sessions: async_sessionmaker[AsyncSession]
) -> Callable[[MessageContext[ImportCompleted]], Awaitable[None]]:
    async def misc(ctx: MessageContext[ImportCompleted]) -> None:
        await run_misc(ctx, config, sessions)

    return misc
