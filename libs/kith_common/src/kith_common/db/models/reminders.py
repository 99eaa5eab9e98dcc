"""Reminders and reminder rules (data-model.md §3.4).

`reminders` are deleted by `reset-reminders`; `reminder_rules` are account settings the
reset preserves (new accounts get 30, 7 and 0 days; the 0-day rule cannot be deactivated).
No job handles are stored: deleting the rows is the whole cleanup.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, table_info
from kith_common.db.models._common import Standard, check_in, same_account_fk, true, user_fk

__all__ = [
    "REMINDER_FREQUENCIES",
    "REMINDER_TYPES",
    "Reminder",
    "ReminderRule",
]

OWNER = "reset-reminders"
REMINDER_TYPES = ("birthday", "stay_in_touch", "one_time", "recurring")
REMINDER_FREQUENCIES = ("weekly", "biweekly", "monthly", "3months", "6months", "annually")


class Reminder(Standard, Base):
    __tablename__ = "reminders"
    __table_args__ = (
        same_account_fk("contact_id", "contacts"),
        user_fk("creator_id"),
        check_in("type", REMINDER_TYPES),
        check_in("frequency", REMINDER_FREQUENCIES),
        # A frequency exactly when the type repeats.
        CheckConstraint(
            "(type IN ('stay_in_touch', 'recurring')) = (frequency IS NOT NULL)",
            name="frequency_required",
        ),
        Index("ix_reminders_account_id_contact_id", "account_id", "contact_id"),
        Index(
            "uq_reminders_contact_id_birthday",
            "contact_id",
            unique=True,
            postgresql_where=text("type = 'birthday'"),
        ),
        Index(
            "ix_reminders_account_id_next_reminder_on_active",
            "account_id",
            "next_reminder_on",
            postgresql_where=text("active"),
        ),
        Index(
            "ix_reminders_account_id_creator_id",
            "account_id",
            "creator_id",
            postgresql_where=text("creator_id IS NOT NULL"),
        ),
        {"info": table_info(OWNER, "delete")},
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    creator_id: Mapped[int | None] = mapped_column(BigInteger)
    type: Mapped[str]
    title: Mapped[str | None]
    frequency: Mapped[str | None]
    next_reminder_on: Mapped[dt.date]
    active: Mapped[bool] = mapped_column(server_default=true())


class ReminderRule(Standard, Base):
    __tablename__ = "reminder_rules"
    __table_args__ = (
        UniqueConstraint("account_id", "days_before"),
        CheckConstraint("days_before >= 0", name="days_before"),
        CheckConstraint("active OR days_before <> 0", name="same_day_rule_active"),
        # Account settings: the reset keeps them (reset.md §1).
        {"info": table_info(OWNER, "preserve")},
    )

    days_before: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(server_default=true())
