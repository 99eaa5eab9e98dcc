"""Journal entries (data-model.md §3.4); owner `reset-journal`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, table_info
from kith_common.db.models._common import Standard, check_in, true, user_fk

__all__ = ["MOODS", "JournalEntry"]

MOODS = ("great", "good", "neutral", "bad", "awful")


class JournalEntry(Standard, Base):
    __tablename__ = "journal_entries"
    __table_args__ = (
        user_fk("author_id"),
        check_in("mood", MOODS),
        {"info": table_info("reset-journal", "delete")},
    )

    author_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str | None]
    content: Mapped[str]
    occurred_at: Mapped[dt.datetime]
    mood: Mapped[str | None]
    is_private: Mapped[bool] = mapped_column(server_default=true())


# (account_id, occurred_at DESC, id DESC) is in `readback` (migration 0004).
Index(
    "ix_journal_entries_account_id_author_id",
    JournalEntry.account_id,
    JournalEntry.author_id,
    postgresql_where=JournalEntry.author_id.is_not(None),
)
