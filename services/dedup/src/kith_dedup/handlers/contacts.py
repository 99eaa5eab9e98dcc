"""Handler of contact.created / updated / deleted / restored: record, then coalesce (issue 18)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kith_common.bus.subscribe import MessageContext
from kith_common.errors import InvalidInput
from kith_common.events.payloads.contacts import ContactUpdated
from kith_dedup.changes import Coalescer, record_change

__all__ = ["contact_change_handler"]


def contact_change_handler(
    coalescer: Coalescer,
) -> Callable[[MessageContext[Any]], Awaitable[None]]:
    async def handle_contact_change(ctx: MessageContext[ContactUpdated]) -> None:
        """Commit the change's record, then let the account's coalesced run scan it.

        A redelivery records the same row again: one effect. A deleted contact is recorded
        too: the run makes its pending pairs obsolete.
        """
        account_id = ctx.envelope.account_id
        if account_id is None:
            raise InvalidInput("contact event without an account")
        async with ctx.unit_of_work() as session:
            await record_change(session, account_id, ctx.data.contact_id)
        coalescer.poke(account_id)

    return handle_contact_change
