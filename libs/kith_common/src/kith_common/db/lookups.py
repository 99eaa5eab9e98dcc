"""Small account-scoped reads more than one service needs (services never import each other)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import Contact

__all__ = ["contacts_by_id"]


async def contacts_by_id(
    session: AsyncSession, account_id: int, ids: Collection[int]
) -> dict[int, Contact]:
    """The account's contacts among `ids`, by id; an id of another account is simply absent."""
    if not ids:
        return {}
    rows = await session.scalars(
        select(Contact).where(Contact.account_id == account_id, Contact.id.in_(ids))
    )
    return {row.id: row for row in rows}
