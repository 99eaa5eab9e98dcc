"""accounts and users rows of the caller's account."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import Account, User


async def get(session: AsyncSession, account_id: int) -> Account | None:
    return await session.get(Account, account_id)


async def update_settings(session: AsyncSession, account_id: int, values: dict[str, Any]) -> None:
    await session.execute(update(Account).where(Account.id == account_id).values(**values))


async def user(session: AsyncSession, account_id: int, user_id: int) -> User | None:
    return await session.scalar(
        select(User).where(User.account_id == account_id, User.id == user_id)
    )
