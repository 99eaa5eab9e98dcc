"""Tenancy and auth (data-model.md §3.1): accounts, users and their access.

Preserved by a reset: a reset clears data, not access. `accounts.generation` is the fence
(ARCHITECTURE §5): raised by exactly 1 per accepted reset attempt, never otherwise.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Index, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, CiText, IdentityId, table_info
from kith_common.db.models._common import (
    EagerDefaults,
    Standard,
    Timestamps,
    check_in,
    same_account_fk,
    user_fk,
)

__all__ = [
    "PHONE_FORMATS",
    "ROLES",
    "Account",
    "AccountInvitation",
    "ApiToken",
    "ConsoleSession",
    "OperatorToken",
    "User",
]

OWNER = "tenancy"
PHONE_FORMATS = ("e164", "national", "international", "raw")
ROLES = ("admin", "editor", "viewer")


class Account(EagerDefaults, Timestamps, Base):
    __tablename__ = "accounts"
    __table_args__ = (
        check_in("phone_format", PHONE_FORMATS),
        CheckConstraint("generation >= 1", name="generation_positive"),
        {"info": table_info(OWNER, "preserve")},
    )

    id: Mapped[IdentityId]
    name: Mapped[str]
    timezone: Mapped[str] = mapped_column(server_default=text("'Etc/UTC'"))
    locale: Mapped[str] = mapped_column(server_default=text("'en'"))
    phone_format: Mapped[str] = mapped_column(server_default=text("'e164'"))
    generation: Mapped[int] = mapped_column(BigInteger, server_default=text("1"))


class User(Standard, Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("account_id", "id"),
        UniqueConstraint("email"),
        check_in("role", ROLES),
        {"info": table_info(OWNER, "preserve")},
    )

    email: Mapped[CiText]
    display_name: Mapped[str | None]
    role: Mapped[str]
    disabled_at: Mapped[dt.datetime | None]


class ApiToken(Standard, Base):
    __tablename__ = "api_tokens"
    __table_args__ = (
        same_account_fk("user_id", "users"),
        UniqueConstraint("token_hash"),
        Index("ix_api_tokens_account_id_user_id", "account_id", "user_id"),
        {"info": table_info(OWNER, "preserve")},
    )

    user_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str]
    token_hash: Mapped[bytes]
    token_prefix: Mapped[str | None]
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class OperatorToken(EagerDefaults, Timestamps, Base):
    """Operator access (bus state, DLQ, replay): no account; `kith admin create-operator`."""

    __tablename__ = "operator_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash"),
        {"info": table_info(OWNER, "preserve")},
    )

    id: Mapped[IdentityId]
    name: Mapped[str]
    token_hash: Mapped[bytes]
    # Not in data-model §3.1: kept for listings, as on api_tokens.
    token_prefix: Mapped[str | None]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class ConsoleSession(EagerDefaults, Timestamps, Base):
    """A console sign-in: the cookie names it, so signing out ends it on the server too.

    `id` is the SHA-256 of the random session secret the signed cookie carries; `token_hash`
    names the API or operator token signed in with (revoking that token also ends the
    session). Expired and revoked rows are deleted by the gateway at sign-in.
    """

    __tablename__ = "console_sessions"
    __table_args__ = (
        Index("ix_console_sessions_expires_at", "expires_at"),
        {"info": table_info(OWNER, "preserve")},
    )

    id: Mapped[bytes] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class AccountInvitation(Standard, Base):
    __tablename__ = "account_invitations"
    __table_args__ = (
        user_fk("invited_by_id"),
        check_in("role", ROLES),
        UniqueConstraint("token_hash"),
        Index(
            "uq_account_invitations_account_id_email_open",
            "account_id",
            "email",
            unique=True,
            postgresql_where=text("accepted_at IS NULL"),
        ),
        Index(
            "ix_account_invitations_account_id_invited_by_id",
            "account_id",
            "invited_by_id",
            postgresql_where=text("invited_by_id IS NOT NULL"),
        ),
        {"info": table_info(OWNER, "preserve")},
    )

    email: Mapped[CiText]
    role: Mapped[str]
    token_hash: Mapped[bytes]
    invited_by_id: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None]
