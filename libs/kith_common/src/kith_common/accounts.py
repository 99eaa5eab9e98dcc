"""Accounts and tokens: creating an account with its first admin, issuing secrets.

Tokens are random (32 bytes, `kith_` + URL-safe base64), shown once, and stored only as their
SHA-256 (`token_hash`; lookup is by hash) plus a short `token_prefix` for listings
(data-model.md §3.1). Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import Account, ApiToken, OperatorToken, ReminderRule, User

__all__ = [
    "DEFAULT_REMINDER_DAYS",
    "TOKEN_PREFIX",
    "create_account",
    "hash_token",
    "issue_api_token",
    "issue_operator_token",
    "new_token",
]

TOKEN_PREFIX = "kith_"  # noqa: S105  # a public marker, not a secret
# data-model.md §3.4: new accounts get reminder rules 30, 7 and 0 days before.
DEFAULT_REMINDER_DAYS = (30, 7, 0)
_LISTED_PREFIX_CHARS = 8


def hash_token(token: str) -> bytes:
    """The SHA-256 stored as `token_hash` (and looked up by)."""
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    """A fresh secret: `kith_` + 32 random bytes, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_account(
    session: AsyncSession,
    *,
    name: str,
    email: str,
    role: str = "admin",
    locale: str = "en",
) -> tuple[Account, User]:
    """Insert an account, its first user and the default reminder rules; flushes, no commit.

    Raises:
        sqlalchemy.exc.IntegrityError: the email is already taken (users.email is global).
    """
    account = Account(name=name, locale=locale)
    session.add(account)
    await session.flush()
    user = User(account_id=account.id, email=email, role=role)
    session.add(user)
    session.add_all(
        ReminderRule(account_id=account.id, days_before=days) for days in DEFAULT_REMINDER_DAYS
    )
    await session.flush()
    return account, user


async def issue_api_token(session: AsyncSession, user: User, name: str) -> str:
    """Store a new API token of `user` and return its plaintext (shown once); flushes."""
    token = new_token()
    session.add(
        ApiToken(
            account_id=user.account_id,
            user_id=user.id,
            name=name,
            token_hash=hash_token(token),
            token_prefix=token[:_LISTED_PREFIX_CHARS],
        )
    )
    await session.flush()
    return token


async def issue_operator_token(session: AsyncSession, name: str) -> str:
    """Store a new operator token and return its plaintext (shown once); flushes."""
    token = new_token()
    session.add(
        OperatorToken(
            name=name,
            token_hash=hash_token(token),
            token_prefix=token[:_LISTED_PREFIX_CHARS],
        )
    )
    await session.flush()
    return token
