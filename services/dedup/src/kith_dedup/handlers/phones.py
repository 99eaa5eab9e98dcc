"""Handler of `kith.cmd.phones.renormalize`: the resumable backfill (dedup.md §6.6)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.bus.subscribe import MessageContext
from kith_common.errors import InvalidInput
from kith_common.events.envelope import Payload
from kith_common.events.payloads.phones import RenormalizePhones
from kith_dedup.renormalize import renormalize_account

__all__ = ["handle_renormalize"]


async def handle_renormalize(ctx: MessageContext[RenormalizePhones]) -> None:
    if ctx.envelope.account_id not in (None, ctx.data.account_id):
        raise InvalidInput("envelope and payload name different accounts")

    async def publish(session: AsyncSession, subject: str, data: Payload) -> None:
        await ctx.publish(subject, data, session=session)

    await renormalize_account(
        ctx.data.account_id,
        unit_of_work=ctx.unit_of_work,
        heartbeat=ctx.heartbeat,
        publish=publish,
    )
