"""Photos and documents (data-model.md §3.4): rows owned by `reset-media`.

Files are owned by `reset-storage`, keyed by `storage_key` under `a/<account_id>/` (§4). A
file is written before its row; a writer whose insert fails deletes its file.
"""

from __future__ import annotations

from sqlalchemy import CHAR, BigInteger, CheckConstraint, Index, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, table_info
from kith_common.db.models._common import (
    Standard,
    false,
    same_account_fk,
    storage_key_check,
    user_fk,
)

__all__ = ["Document", "Photo"]

OWNER = "reset-media"
CONTENT_HASH_CHECK = "content_hash ~ '^[0-9a-f]{64}$'"


class Photo(Standard, Base):
    __tablename__ = "photos"
    __table_args__ = (
        UniqueConstraint("account_id", "id"),
        UniqueConstraint("storage_key"),
        # One copy of an image per contact.
        UniqueConstraint("contact_id", "content_hash"),
        same_account_fk("contact_id", "contacts"),
        user_fk("creator_id"),
        storage_key_check("storage_key"),
        CheckConstraint(CONTENT_HASH_CHECK, name="content_hash"),
        Index("ix_photos_account_id_contact_id", "account_id", "contact_id"),
        Index(
            "ix_photos_account_id_creator_id",
            "account_id",
            "creator_id",
            postgresql_where=text("creator_id IS NOT NULL"),
        ),
        {"info": table_info(OWNER, "delete")},
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str]
    file_name: Mapped[str | None]
    content_type: Mapped[str]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    # SHA-256 of the bytes, hex, computed on every write.
    content_hash: Mapped[str] = mapped_column(CHAR(64))
    is_private: Mapped[bool] = mapped_column(server_default=false())
    creator_id: Mapped[int | None] = mapped_column(BigInteger)


class Document(Standard, Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("account_id", "id"),
        UniqueConstraint("storage_key"),
        same_account_fk("contact_id", "contacts"),
        user_fk("creator_id"),
        storage_key_check("storage_key"),
        CheckConstraint(CONTENT_HASH_CHECK, name="content_hash"),
        Index("ix_documents_account_id_contact_id", "account_id", "contact_id"),
        Index(
            "ix_documents_account_id_creator_id",
            "account_id",
            "creator_id",
            postgresql_where=text("creator_id IS NOT NULL"),
        ),
        {"info": table_info(OWNER, "delete")},
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str]
    file_name: Mapped[str | None]
    content_type: Mapped[str]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str | None] = mapped_column(CHAR(64))
    is_private: Mapped[bool] = mapped_column(server_default=false())
    creator_id: Mapped[int | None] = mapped_column(BigInteger)
