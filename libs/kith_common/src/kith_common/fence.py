"""The account-generation fence (ARCHITECTURE §5).

Every writer reads its account row `FOR SHARE` inside the writing transaction and compares
the generation its work was produced under. A reset bumps the generation with an UPDATE of
that row, which waits for every open `FOR SHARE`; so once a reset has begun, no transaction
of the old generation can commit a row.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import Account
from kith_common.errors import NotFound, StaleGeneration


async def hold(session: AsyncSession, account_id: int, generation: int | None) -> int:
    """Lock the account row `FOR SHARE` and check the generation; return the current one.

    Raises:
        StaleGeneration: the account moved on since `generation` (work must not write).

    An account that no longer exists counts as moved on: its work is equally stale.
    """
    current = await session.scalar(
        select(Account.generation).where(Account.id == account_id).with_for_update(read=True)
    )
    if current is None:
        msg = f"account {account_id} no longer exists"
        raise StaleGeneration(msg)
    if generation is not None and generation != current:
        msg = f"work of generation {generation}, account {account_id} is at {current}"
        raise StaleGeneration(msg)
    return current


async def current_generation(session: AsyncSession, account_id: int) -> int | None:
    """The account's generation without locking (for producers stamping new envelopes)."""
    return await session.scalar(select(Account.generation).where(Account.id == account_id))


async def bump(session: AsyncSession, account_id: int) -> int:
    """Raise the generation by exactly one (reset admission only); waits for open holders."""
    new = await session.scalar(
        update(Account)
        .where(Account.id == account_id)
        .values(generation=Account.generation + 1)
        .returning(Account.generation)
    )
    if new is None:
        msg = f"account {account_id} does not exist"
        raise NotFound(msg, code="account-not-found")
    return int(new)
