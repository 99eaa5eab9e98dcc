"""Duplicate candidates carry confidence and evidence; contacts changed through the API queue.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-07

- duplicate_candidates.confidence (0–1, default 0) and evidence (jsonb, NULL until a run
  judges the pair), with the (account_id, status, confidence DESC, id) index of the review
  list's default order;
- dedup_key_state.live_contacts, agreement_rates and scanned_at: the account's size at its
  last full scan, its fields' agreement rates, and when that scan wrote its results;
- dedup_dirty_contacts: contacts changed through the API, waiting for a coalesced
  incremental scan;
- contacts (account_id, lower(btrim(display_name))) for live contacts: the exact-name term
  frequency an incremental run reads.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "duplicate_candidates",
        sa.Column("confidence", sa.Double(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "duplicate_candidates",
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_index(
        "ix_duplicate_candidates_account_id_status_confidence_id",
        "duplicate_candidates",
        ["account_id", "status", sa.literal_column("confidence DESC"), "id"],
    )
    op.add_column("dedup_key_state", sa.Column("live_contacts", sa.BigInteger(), nullable=True))
    op.add_column(
        "dedup_key_state",
        sa.Column("agreement_rates", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column(
        "dedup_key_state", sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "dedup_dirty_contacts",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "queued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_dedup_dirty_contacts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "contact_id", name=op.f("pk_dedup_dirty_contacts")),
    )
    op.create_index(
        "ix_contacts_account_id_lower_display_name",
        "contacts",
        ["account_id", sa.literal_column("lower(btrim(display_name))")],
        postgresql_where=sa.text("deleted_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_contacts_account_id_lower_display_name", table_name="contacts")
    op.drop_table("dedup_dirty_contacts")
    op.drop_column("dedup_key_state", "scanned_at")
    op.drop_column("dedup_key_state", "agreement_rates")
    op.drop_column("dedup_key_state", "live_contacts")
    op.drop_index(
        "ix_duplicate_candidates_account_id_status_confidence_id",
        table_name="duplicate_candidates",
    )
    op.drop_column("duplicate_candidates", "evidence")
    op.drop_column("duplicate_candidates", "confidence")
