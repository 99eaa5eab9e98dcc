"""The audit log (data-model.md §3.4); owner `reset-audit`, which keeps `account_data_reset`.

Append-only (no `updated_at`). `user_id` and `contact_id` have no FK and the names are copied
at write time, so entries outlive what they describe. Written in the change's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Index, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, CreatedAt, IdentityId, table_info
from kith_common.db.models._common import AccountScoped, EagerDefaults, check_in

__all__ = ["AUDIT_EVENTS", "AuditLog"]

AUDIT_EVENTS = (
    "contact_created",
    "contact_updated",
    "contact_archived",
    "contact_restored",
    "contact_deleted",
    "contact_purged",
    "contacts_merged",
    "user_joined",
    "user_role_changed",
    "user_removed",
    "invitation_sent",
    "invitation_accepted",
    "token_created",
    "token_revoked",
    "data_imported",
    "import_cancelled",
    "account_data_reset",
)


class AuditLog(EagerDefaults, AccountScoped, Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        check_in("event", AUDIT_EVENTS),
        Index("ix_audit_logs_account_id_event", "account_id", "event"),
        Index(
            "ix_audit_logs_account_id_contact_id",
            "account_id",
            "contact_id",
            postgresql_where=text("contact_id IS NOT NULL"),
        ),
        {"info": table_info("reset-audit", "delete")},
    )

    id: Mapped[IdentityId]
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    user_name: Mapped[str]
    contact_id: Mapped[int | None] = mapped_column(BigInteger)
    contact_name: Mapped[str | None]
    event: Mapped[str]
    # The column is `metadata`; the attribute cannot be (Declarative reserves it).
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[CreatedAt]


Index(
    "ix_audit_logs_account_id_created_at",
    AuditLog.account_id,
    AuditLog.created_at.desc(),
)
