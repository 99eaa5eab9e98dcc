"""Account ids for operator-wide commands."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import Account


async def accounts(session: AsyncSession, account_id: int | None) -> Sequence[tuple[int, int]]:
    """(id, generation) of one account or all of them."""
    query = select(Account.id, Account.generation).order_by(Account.id)
    if account_id is not None:
        query = query.where(Account.id == account_id)
    return [(i, g) for i, g in (await session.execute(query)).all()]
