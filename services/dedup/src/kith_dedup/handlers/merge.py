"""Handler of `kith.cmd.contacts.merge`: one transaction with the inbox record (dedup.md §5.1)."""

from __future__ import annotations

from kith_common.bus.subscribe import MessageContext
from kith_common.errors import InvalidInput
from kith_common.events.payloads.contacts import MergeContacts
from kith_dedup.merges import execute_merge

__all__ = ["handle_merge"]


async def handle_merge(ctx: MessageContext[MergeContacts]) -> None:
    if ctx.envelope.account_id is None:
        raise InvalidInput("merge command without an account")
    await execute_merge(
        ctx.tx,
        ctx.data,
        merge_id=ctx.envelope.id,
        account_id=ctx.envelope.account_id,
        generation=ctx.envelope.generation,
        correlation_id=ctx.envelope.correlation_id,
    )
