"""Duplicate detection and merges (data-model.md §3.6); owner `reset-dedup`.

`contact_merges` is history written once: its contact and import ids have no FK, so it
outlives a purge.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Numeric,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, CreatedAt, table_info
from kith_common.db.models._common import (
    AccountScoped,
    EagerDefaults,
    Standard,
    Timestamps,
    check_in,
    same_account_fk,
    user_fk,
)

__all__ = [
    "CANDIDATE_STATUSES",
    "DUPLICATE_REASONS",
    "MERGE_SOURCES",
    "MERGE_STATUSES",
    "ContactMerge",
    "DedupDirtyContact",
    "DedupKeyState",
    "DuplicateCandidate",
]

OWNER = "reset-dedup"
# In this order within `reasons`.
DUPLICATE_REASONS = ("name_match", "email_match", "phone_match", "address_match")
CANDIDATE_STATUSES = ("pending", "dismissed", "merged", "obsolete")
MERGE_SOURCES = ("api", "auto_merge")
MERGE_STATUSES = ("done", "failed")


class DuplicateCandidate(Standard, Base):
    __tablename__ = "duplicate_candidates"
    __table_args__ = (
        same_account_fk("contact_id", "contacts"),
        same_account_fk("duplicate_contact_id", "contacts"),
        user_fk("resolved_by_id"),
        # A canonical order per pair.
        CheckConstraint("contact_id < duplicate_contact_id", name="pair_order"),
        CheckConstraint("score >= 0 AND score <= 1", name="score"),
        CheckConstraint(
            "reasons <@ ARRAY['name_match', 'email_match', 'phone_match', 'address_match']",
            name="reasons",
        ),
        check_in("status", CANDIDATE_STATUSES),
        UniqueConstraint("account_id", "contact_id", "duplicate_contact_id"),
        Index(
            "ix_duplicate_candidates_account_id_duplicate_contact_id",
            "account_id",
            "duplicate_contact_id",
        ),
        Index(
            "ix_duplicate_candidates_account_id_resolved_by_id",
            "account_id",
            "resolved_by_id",
            postgresql_where=text("resolved_by_id IS NOT NULL"),
        ),
        {"info": table_info(OWNER, "delete")},
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    duplicate_contact_id: Mapped[int] = mapped_column(BigInteger)
    score: Mapped[Decimal] = mapped_column(Numeric(3, 2))
    reasons: Mapped[list[str]] = mapped_column(ARRAY(Text))
    status: Mapped[str] = mapped_column(server_default=text("'pending'"))
    detected_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    resolved_at: Mapped[dt.datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(BigInteger)
    # How sure the pair is one person (0–1) and the per-field evidence behind it (dedup.md
    # §3.6, kith_dedup.evidence); evidence NULL: not judged yet (rows older than the model).
    confidence: Mapped[float] = mapped_column(Double, server_default=text("0"))
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


Index(
    "ix_duplicate_candidates_account_id_status_confidence_id",
    DuplicateCandidate.account_id,
    DuplicateCandidate.status,
    DuplicateCandidate.confidence.desc(),
    DuplicateCandidate.id,
)
Index(
    "ix_duplicate_candidates_account_id_status_score_id",
    DuplicateCandidate.account_id,
    DuplicateCandidate.status,
    DuplicateCandidate.score.desc(),
    DuplicateCandidate.id,
)


class ContactMerge(EagerDefaults, AccountScoped, Base):
    __tablename__ = "contact_merges"
    __table_args__ = (
        user_fk("requested_by_id"),
        check_in("source", MERGE_SOURCES),
        check_in("status", MERGE_STATUSES),
        Index(
            "ix_contact_merges_account_id_requested_by_id",
            "account_id",
            "requested_by_id",
            postgresql_where=text("requested_by_id IS NOT NULL"),
        ),
        {"info": table_info(OWNER, "delete")},
    )

    # The kith.cmd.contacts.merge envelope id; a new uuid for an auto-merge.
    merge_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    survivor_id: Mapped[int] = mapped_column(BigInteger)
    loser_id: Mapped[int] = mapped_column(BigInteger)
    import_id: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str]
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str]
    error_code: Mapped[str | None]
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[CreatedAt]


Index(
    "ix_contact_merges_account_id_created_at",
    ContactMerge.account_id,
    ContactMerge.created_at.desc(),
)


class DedupKeyState(EagerDefaults, Timestamps, Base):
    """Per-account match-key version and the renormalize backfill cursor (dedup.md §6.6)."""

    __tablename__ = "dedup_key_state"
    __table_args__ = ({"info": table_info(OWNER, "delete")},)

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    key_version: Mapped[str | None]
    backfill_cursor: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    finished_at: Mapped[dt.datetime | None]
    # Live contacts at the account's last full scan: the term frequencies' denominator for
    # its incremental runs (counting 10^5 rows costs more than the rest of such a run).
    live_contacts: Mapped[int | None] = mapped_column(BigInteger)
    # How many other contacts a contact agrees with per name/email/phone/address level, as
    # the account's first full scan counted them: the floor of u (kith_dedup.evidence).
    agreement_rates: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # When the account's last full scan wrote its results (the console's "Scan running…").
    scanned_at: Mapped[dt.datetime | None]


class DedupDirtyContact(Base):
    """Contacts changed through the API and not yet scanned (coalesced incremental runs).

    The contact.* handler records the contact and acks; one run per account then scans all
    recorded contacts at once and deletes the rows it covered, so a burst of edits costs a
    few runs, and a restart finds what is still to scan.
    """

    __tablename__ = "dedup_dirty_contacts"
    __table_args__ = ({"info": table_info(OWNER, "delete")},)

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    queued_at: Mapped[CreatedAt]
