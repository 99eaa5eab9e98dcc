"""Token lookups: api_tokens (with their user) and operator_tokens, by SHA-256 hash."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import ApiToken, OperatorToken, User


@dataclass(frozen=True, slots=True)
class TokenOwner:
    token_id: int
    account_id: int
    user_id: int
    role: str
    email: str
    display_name: str | None
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None


async def api_token_owner(
    session: AsyncSession, token_hash: bytes, now: dt.datetime
) -> TokenOwner | None:
    row = (
        await session.execute(
            select(
                ApiToken.id,
                ApiToken.account_id,
                User.id,
                User.role,
                User.email,
                User.display_name,
                ApiToken.last_used_at,
                ApiToken.expires_at,
            )
            .join(User, (User.id == ApiToken.user_id) & (User.account_id == ApiToken.account_id))
            .where(
                ApiToken.token_hash == token_hash,
                ApiToken.revoked_at.is_(None),
                or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
                User.disabled_at.is_(None),
            )
        )
    ).first()
    return TokenOwner(*row) if row else None


async def operator_token_id(session: AsyncSession, token_hash: bytes) -> int | None:
    return await session.scalar(
        select(OperatorToken.id).where(
            OperatorToken.token_hash == token_hash, OperatorToken.revoked_at.is_(None)
        )
    )


async def touch_api_token(session: AsyncSession, token_id: int, now: dt.datetime) -> None:
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


async def touch_operator_token(session: AsyncSession, token_id: int, now: dt.datetime) -> None:
    await session.execute(
        update(OperatorToken).where(OperatorToken.id == token_id).values(last_used_at=now)
    )
