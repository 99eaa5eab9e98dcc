"""users, api_tokens and account_invitations of one account."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import AccountInvitation, ApiToken, User
from kith_common.errors import Conflict


async def page_users(
    session: AsyncSession, account_id: int, after_id: int | None, limit: int
) -> Sequence[User]:
    query = select(User).where(User.account_id == account_id)
    if after_id is not None:
        query = query.where(User.id > after_id)
    return (await session.scalars(query.order_by(User.id).limit(limit + 1))).all()


async def get_user(
    session: AsyncSession, account_id: int, user_id: int, *, lock: bool = False
) -> User | None:
    query = select(User).where(User.account_id == account_id, User.id == user_id)
    return await session.scalar(query.with_for_update() if lock else query)


async def email_taken(session: AsyncSession, email: str) -> bool:
    return (await session.scalar(select(User.id).where(User.email == email))) is not None


async def add_user(session: AsyncSession, values: dict[str, Any]) -> User:
    """Insert a user; a concurrent insert of the same email is a 409, not a crash."""
    user = User(**values)
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError as err:
        raise Conflict("a user with this email already exists", code="email-taken") from err
    return user


async def update_user(session: AsyncSession, user: User, values: dict[str, Any]) -> None:
    await session.execute(
        update(User).where(User.id == user.id).values(**values, updated_at=func.now())
    )
    await session.refresh(user)


async def delete_user(session: AsyncSession, account_id: int, user_id: int) -> None:
    await session.execute(delete(User).where(User.account_id == account_id, User.id == user_id))


async def admins(session: AsyncSession, account_id: int) -> int:
    """Admins of the account, rows locked so two removals cannot both pass the check."""
    rows = await session.scalars(
        select(User.id)
        .where(User.account_id == account_id, User.role == "admin", User.disabled_at.is_(None))
        .with_for_update()
    )
    return len(rows.all())


async def page_tokens(
    session: AsyncSession, account_id: int, after_id: int | None, limit: int
) -> Sequence[ApiToken]:
    query = select(ApiToken).where(ApiToken.account_id == account_id)
    if after_id is not None:
        query = query.where(ApiToken.id > after_id)
    return (await session.scalars(query.order_by(ApiToken.id).limit(limit + 1))).all()


async def get_token(session: AsyncSession, account_id: int, token_id: int) -> ApiToken | None:
    return await session.scalar(
        select(ApiToken).where(ApiToken.account_id == account_id, ApiToken.id == token_id)
    )


async def token_by_hash(session: AsyncSession, account_id: int, token_hash: bytes) -> ApiToken:
    token = await session.scalar(
        select(ApiToken).where(ApiToken.account_id == account_id, ApiToken.token_hash == token_hash)
    )
    assert token is not None
    return token


async def set_token(session: AsyncSession, token: ApiToken, values: dict[str, Any]) -> None:
    await session.execute(
        update(ApiToken).where(ApiToken.id == token.id).values(**values, updated_at=func.now())
    )
    await session.refresh(token)


async def open_invitation(
    session: AsyncSession, account_id: int, email: str
) -> AccountInvitation | None:
    return await session.scalar(
        select(AccountInvitation).where(
            AccountInvitation.account_id == account_id,
            AccountInvitation.email == email,
            AccountInvitation.accepted_at.is_(None),
        )
    )


async def add_invitation(session: AsyncSession, values: dict[str, Any]) -> AccountInvitation:
    row = AccountInvitation(**values)
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as err:
        raise Conflict(
            "this email already has an open invitation", code="invitation-exists"
        ) from err
    return row


async def get_invitation(
    session: AsyncSession, account_id: int, invitation_id: int
) -> AccountInvitation | None:
    return await session.scalar(
        select(AccountInvitation).where(
            AccountInvitation.account_id == account_id, AccountInvitation.id == invitation_id
        )
    )


async def invitation_by_hash(session: AsyncSession, token_hash: bytes) -> AccountInvitation | None:
    return await session.scalar(
        select(AccountInvitation)
        .where(AccountInvitation.token_hash == token_hash)
        .with_for_update()
    )


async def delete_invitation(session: AsyncSession, invitation_id: int) -> None:
    await session.execute(delete(AccountInvitation).where(AccountInvitation.id == invitation_id))


async def mark_accepted(
    session: AsyncSession, invitation: AccountInvitation, now: dt.datetime
) -> None:
    await session.execute(
        update(AccountInvitation)
        .where(AccountInvitation.id == invitation.id)
        .values(accepted_at=now, updated_at=now)
    )
