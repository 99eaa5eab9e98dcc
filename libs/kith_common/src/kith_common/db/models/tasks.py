"""Tasks (data-model.md §3.4); owner `reset-tasks` (with and without a contact)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, table_info
from kith_common.db.models._common import Standard, check_in, same_account_fk, true, user_fk

__all__ = ["TASK_PRIORITIES", "TASK_STATUSES", "Task"]

TASK_PRIORITIES = ("low", "medium", "high")
TASK_STATUSES = ("pending", "in_progress", "completed", "cancelled")


class Task(Standard, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        # Nullable but CASCADE: a NULL contact skips the check (MATCH SIMPLE).
        same_account_fk("contact_id", "contacts"),
        user_fk("creator_id"),
        check_in("priority", TASK_PRIORITIES),
        check_in("status", TASK_STATUSES),
        Index("ix_tasks_account_id_status_due_on", "account_id", "status", "due_on"),
        Index(
            "ix_tasks_account_id_contact_id",
            "account_id",
            "contact_id",
            postgresql_where=text("contact_id IS NOT NULL"),
        ),
        Index(
            "ix_tasks_account_id_creator_id",
            "account_id",
            "creator_id",
            postgresql_where=text("creator_id IS NOT NULL"),
        ),
        {"info": table_info("reset-tasks", "delete")},
    )

    contact_id: Mapped[int | None] = mapped_column(BigInteger)
    creator_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str]
    description: Mapped[str | None]
    due_on: Mapped[dt.date | None]
    priority: Mapped[str] = mapped_column(server_default=text("'medium'"))
    status: Mapped[str] = mapped_column(server_default=text("'pending'"))
    completed_at: Mapped[dt.datetime | None]
    is_private: Mapped[bool] = mapped_column(server_default=true())
