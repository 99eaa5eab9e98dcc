"""The rules every write of account data passes first (reset.md §2, ARCHITECTURE §5).

`writable` holds the generation fence (`FOR SHARE` on the account row, so a reset's bump waits
for this transaction) and refuses with 409 `reset_in_progress` while a reset runs, pointing at
the reset. It returns the generation to stamp on the events the write publishes.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import fence, resets
from kith_gateway.problems import ExtendedConflict

RESET_IN_PROGRESS = "reset_in_progress"


def reset_in_progress(reset_id: int) -> ExtendedConflict:
    return ExtendedConflict(
        "a reset of this account is running; account data cannot change until it ends",
        code=RESET_IN_PROGRESS,
        extra={"reset_id": reset_id, "status_url": resets.status_url(reset_id)},
    )


async def writable(session: AsyncSession, account_id: int) -> int:
    generation = await fence.hold(session, account_id, None)
    running = await resets.running_reset(session, account_id)
    if running is not None:
        raise reset_in_progress(running.reset_id)
    return generation
