"""Handler of `kith.dlq.>`: the importer's DLQ hook (importer.md §10)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kith_common.bus.subscribe import MessageContext
from kith_common.events.payloads.dlq import DeadLetter
from kith_importer.dead_letters import fail_dead_lettered

__all__ = ["make_dead_letters"]


async def dead_letter(ctx: MessageContext[DeadLetter]) -> None:
    await fail_dead_lettered(
        ctx.tx,
        ctx.data,
        account_id=ctx.envelope.account_id,
        publish=lambda subject, data, session: ctx.publish(subject, data, session=session),
    )


def make_dead_letters() -> Callable[[MessageContext[DeadLetter]], Awaitable[None]]:
    return dead_letter
