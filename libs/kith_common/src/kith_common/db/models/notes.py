"""Notes (data-model.md §3.4); owner `reset-notes`."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, table_info
from kith_common.db.models._common import Standard, false, same_account_fk, user_fk

__all__ = ["Note"]


class Note(Standard, Base):
    __tablename__ = "notes"
    __table_args__ = (
        same_account_fk("contact_id", "contacts"),
        user_fk("author_id"),
        {"info": table_info("reset-notes", "delete")},
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    # HTML, sanitised to an allow-list on write.
    body: Mapped[str]
    favorite: Mapped[bool] = mapped_column(server_default=false())
    is_private: Mapped[bool] = mapped_column(server_default=false())
    author_id: Mapped[int | None] = mapped_column(BigInteger)


# (account_id, contact_id, created_at DESC, id DESC) is in `readback` (migration 0004).
Index(
    "ix_notes_account_id_author_id",
    Note.account_id,
    Note.author_id,
    postgresql_where=Note.author_id.is_not(None),
)
