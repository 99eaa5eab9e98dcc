"""Imports (data-model.md §3.5); owner `reset-imports`.

- `imports`: one row per import; `status` drives the crawl, `misc_status` and `media_status`
  the later phases (NULL if not asked for). One live crawl per account (`cancelling`
  included, so a cancel does not free the slot while the crawl still runs). The Monica key
  is encrypted and cannot outlive the last phase that needs it (CHECK).
- `import_records`: source id → local row mapping; `local_entity_id` has no FK (polymorphic)
  and the mapping outlives a pruned import (`import_id` SET NULL).
- `import_staging`: a crawl's working state, dropped when the import's last phase ends.
- `import_connection_checks`: a pending connection check; the key never travels on NATS.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    PrimaryKeyConstraint,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, table_info
from kith_common.db.models._common import (
    AccountScoped,
    EagerDefaults,
    Standard,
    Timestamps,
    check_in,
    same_account_fk,
    storage_key_check,
    user_fk,
)

__all__ = [
    "IMPORT_CANCEL_REASONS",
    "IMPORT_LIVE_STATUSES",
    "IMPORT_SOURCES",
    "IMPORT_STATUSES",
    "SOURCE_ENTITY_TYPES",
    "Import",
    "ImportConnectionCheck",
    "ImportRecord",
    "ImportStaging",
]

OWNER = "reset-imports"
IMPORT_SOURCES = ("monica_api", "vcard")
IMPORT_STATUSES = ("pending", "processing", "completed", "failed", "cancelling", "cancelled")
# Phases that still hold the one-live-crawl slot.
IMPORT_LIVE_STATUSES = ("pending", "processing", "cancelling")
IMPORT_CANCEL_REASONS = ("user", "account_reset")
SOURCE_ENTITY_TYPES = (
    "contact",
    "contact_field",
    "address",
    "note",
    "relationship",
    "document",
    "pet",
    "call",
    "activity",
    "gift",
    "debt",
    "task",
    "reminder",
    "conversation",
    "message",
    "photo",
    "life_event",
    "journal_entry",
)

_EMPTY_JSON = text("'{}'::jsonb")


def _json_object() -> Any:
    return mapped_column(JSONB, server_default=_EMPTY_JSON)


class Import(Standard, Base):
    __tablename__ = "imports"
    __table_args__ = (
        UniqueConstraint("account_id", "id"),
        user_fk("user_id"),
        check_in("source", IMPORT_SOURCES),
        check_in("status", IMPORT_STATUSES),
        check_in("misc_status", IMPORT_STATUSES),
        check_in("media_status", IMPORT_STATUSES),
        check_in("cancel_reason", IMPORT_CANCEL_REASONS),
        # The key cannot outlive the last phase that needs it. COALESCE: a NULL phase would
        # make the spec's `misc_status IN (...)` NULL, and a NULL CHECK passes.
        CheckConstraint(
            "api_key_encrypted IS NULL"
            " OR status IN ('pending', 'processing')"
            " OR COALESCE(misc_status, '') IN ('pending', 'processing')"
            " OR COALESCE(media_status, '') IN ('pending', 'processing')",
            name="api_key_needed",
        ),
        storage_key_check("file_storage_key"),
        Index(
            "uq_imports_account_id_live",
            "account_id",
            unique=True,
            postgresql_where=text("status IN ('pending', 'processing', 'cancelling')"),
        ),
        Index(
            "ix_imports_account_id_user_id",
            "account_id",
            "user_id",
            postgresql_where=text("user_id IS NOT NULL"),
        ),
        {"info": table_info(OWNER, "delete")},
    )

    user_id: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str]
    # The account's generation at creation: every phase stops when it no longer matches.
    generation: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(server_default=text("'pending'"))
    misc_status: Mapped[str | None]
    media_status: Mapped[str | None]
    cancel_reason: Mapped[str | None]
    api_url: Mapped[str | None]
    # AES-GCM under KITH_SECRET_KEY; never logged, never on the bus.
    api_key_encrypted: Mapped[bytes | None]
    options: Mapped[dict[str, Any]] = _json_object()
    summary: Mapped[dict[str, Any]] = _json_object()
    sync_summary: Mapped[dict[str, Any]] = _json_object()
    checkpoint: Mapped[dict[str, Any]] = _json_object()
    file_name: Mapped[str | None]
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_storage_key: Mapped[str | None]
    lease_owner: Mapped[str | None]
    heartbeat_at: Mapped[dt.datetime | None]
    error: Mapped[str | None]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class ImportRecord(Standard, Base):
    __tablename__ = "import_records"
    __table_args__ = (
        same_account_fk("import_id", "imports", on_delete="set_null"),
        check_in("source_entity_type", SOURCE_ENTITY_TYPES),
        UniqueConstraint("account_id", "source", "source_entity_type", "source_entity_id"),
        Index(
            "ix_import_records_account_id_local_entity_type_local_entity_id",
            "account_id",
            "local_entity_type",
            "local_entity_id",
        ),
        Index("ix_import_records_import_id", "import_id"),
        {"info": table_info(OWNER, "delete")},
    )

    # The last import that wrote the mapping.
    import_id: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str]
    source_entity_type: Mapped[str]
    # vCards: the card's UID, else the sha256 of the normalised card (importer.md §12).
    source_entity_id: Mapped[str]
    local_entity_type: Mapped[str]
    # Polymorphic: no FK; readers join the local table and treat a missing row as no mapping.
    local_entity_id: Mapped[int] = mapped_column(BigInteger)


class ImportStaging(EagerDefaults, AccountScoped, Timestamps, Base):
    __tablename__ = "import_staging"
    __table_args__ = (
        PrimaryKeyConstraint("import_id", "kind", "key"),
        same_account_fk("import_id", "imports"),
        Index("ix_import_staging_account_id_import_id", "account_id", "import_id"),
        {"info": table_info(OWNER, "delete")},
    )

    import_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str]
    key: Mapped[str]
    payload: Mapped[dict[str, Any]]


class ImportConnectionCheck(EagerDefaults, AccountScoped, Timestamps, Base):
    """The gateway inserts; the importer deletes the row when it takes the check."""

    __tablename__ = "import_connection_checks"
    __table_args__ = (
        Index("ix_import_connection_checks_account_id", "account_id"),
        Index("ix_import_connection_checks_expires_at", "expires_at"),
        {"info": table_info(OWNER, "delete")},
    )

    # The check_id of the request.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    api_url: Mapped[str]
    api_key_encrypted: Mapped[bytes]
    expires_at: Mapped[dt.datetime]
