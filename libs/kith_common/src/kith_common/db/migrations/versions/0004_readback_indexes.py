"""Indexes for reading records back newest first: account-wide and per-contact lists.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

Every record list of the API (issue #16) is a keyset page ordered `when DESC, id DESC`;
"when" is the moment a record is about, or its creation (kith_common.db.models.readback).
One index per table serves the account-wide list, one per table with a contact column its
contact's list and timeline. The two older indexes they extend (notes by contact and
creation, journal entries by moment) are dropped: each is a prefix of its successor.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIFE_EVENT_DAY = "timezone('UTC', CAST(occurred_on AS TIMESTAMP WITHOUT TIME ZONE))"

# table, "when" (SQL), has a contact column
WHEN: list[tuple[str, str, bool]] = [
    ("notes", "created_at", True),
    ("relationships", "created_at", False),
    ("activities", "occurred_at", False),
    ("calls", "occurred_at", True),
    ("pets", "created_at", True),
    ("gifts", "created_at", True),
    ("debts", "created_at", True),
    ("tasks", "created_at", True),
    ("reminders", "created_at", True),
    ("conversations", "created_at", True),
    ("life_events", LIFE_EVENT_DAY, True),
    ("journal_entries", "occurred_at", False),
    ("photos", "created_at", True),
    ("documents", "created_at", True),
]


def upgrade() -> None:
    for table, when, by_contact in WHEN:
        recent = [sa.text(f"{when} DESC"), sa.text("id DESC")]
        op.create_index(f"ix_{table}_account_recent", table, ["account_id", *recent])
        if by_contact:
            op.create_index(
                f"ix_{table}_contact_recent",
                table,
                ["account_id", "contact_id", *recent],
                postgresql_where=sa.text("contact_id IS NOT NULL") if table == "tasks" else None,
            )
    op.drop_index("ix_notes_account_id_contact_id_created_at", table_name="notes")
    op.drop_index("ix_journal_entries_account_id_occurred_at", table_name="journal_entries")


def downgrade() -> None:
    op.create_index(
        "ix_journal_entries_account_id_occurred_at",
        "journal_entries",
        ["account_id", sa.text("occurred_at DESC")],
    )
    op.create_index(
        "ix_notes_account_id_contact_id_created_at",
        "notes",
        ["account_id", "contact_id", sa.text("created_at DESC")],
    )
    for table, _, by_contact in reversed(WHEN):
        if by_contact:
            op.drop_index(f"ix_{table}_contact_recent", table_name=table)
        op.drop_index(f"ix_{table}_account_recent", table_name=table)
