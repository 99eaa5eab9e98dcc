"""Activities and their participants (data-model.md §3.4); owner `reset-activities`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, PrimaryKeyConstraint, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, CreatedAt, table_info
from kith_common.db.models._common import (
    AccountScoped,
    EagerDefaults,
    Standard,
    false,
    same_account_fk,
    user_fk,
)

__all__ = ["Activity", "ActivityContact"]

OWNER = "reset-activities"


class Activity(Standard, Base):
    """No contact column: participants are `activity_contacts` rows."""

    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("account_id", "id"),
        user_fk("creator_id"),
        Index(
            "ix_activities_account_id_creator_id",
            "account_id",
            "creator_id",
            postgresql_where=text("creator_id IS NOT NULL"),
        ),
        {"info": table_info(OWNER, "delete")},
    )

    title: Mapped[str]
    description: Mapped[str | None]
    occurred_at: Mapped[dt.datetime]
    is_private: Mapped[bool] = mapped_column(server_default=false())
    creator_id: Mapped[int | None] = mapped_column(BigInteger)


class ActivityContact(EagerDefaults, AccountScoped, Base):
    __tablename__ = "activity_contacts"
    __table_args__ = (
        PrimaryKeyConstraint("activity_id", "contact_id"),
        same_account_fk("activity_id", "activities"),
        same_account_fk("contact_id", "contacts"),
        Index("ix_activity_contacts_account_id_contact_id", "account_id", "contact_id"),
        {"info": table_info(OWNER, "delete")},
    )

    activity_id: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[CreatedAt]
