"""Conversations and their messages (data-model.md §3.4); owner `reset-conversations`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, table_info
from kith_common.db.models._common import Standard, check_in, same_account_fk, true, user_fk

__all__ = [
    "CONVERSATION_PLATFORMS",
    "CONVERSATION_STATUSES",
    "MESSAGE_DIRECTIONS",
    "Conversation",
    "Message",
]

OWNER = "reset-conversations"
CONVERSATION_PLATFORMS = (
    "sms",
    "whatsapp",
    "telegram",
    "email",
    "instagram",
    "messenger",
    "signal",
    "other",
)
CONVERSATION_STATUSES = ("active", "archived")
MESSAGE_DIRECTIONS = ("sent", "received")


class Conversation(Standard, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("account_id", "id"),
        same_account_fk("contact_id", "contacts"),
        user_fk("creator_id"),
        check_in("platform", CONVERSATION_PLATFORMS),
        check_in("status", CONVERSATION_STATUSES),
        Index("ix_conversations_account_id_contact_id", "account_id", "contact_id"),
        Index(
            "ix_conversations_account_id_creator_id",
            "account_id",
            "creator_id",
            postgresql_where=text("creator_id IS NOT NULL"),
        ),
        {"info": table_info(OWNER, "delete")},
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str | None]
    platform: Mapped[str] = mapped_column(server_default=text("'other'"))
    status: Mapped[str] = mapped_column(server_default=text("'active'"))
    is_private: Mapped[bool] = mapped_column(server_default=true())
    creator_id: Mapped[int | None] = mapped_column(BigInteger)


class Message(Standard, Base):
    __tablename__ = "messages"
    __table_args__ = (
        same_account_fk("conversation_id", "conversations"),
        check_in("direction", MESSAGE_DIRECTIONS),
        Index(
            "ix_messages_account_id_conversation_id_sent_at",
            "account_id",
            "conversation_id",
            "sent_at",
        ),
        {"info": table_info(OWNER, "delete")},
    )

    conversation_id: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str]
    direction: Mapped[str]
    sent_at: Mapped[dt.datetime]
