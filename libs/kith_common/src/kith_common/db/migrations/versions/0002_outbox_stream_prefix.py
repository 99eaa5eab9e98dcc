"""Outbox rows carry the producer's stream prefix; a relay publishes only its own.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Deployments that share one database but not one set of streams (test runs, a staging stack
beside production) otherwise publish each other's rows onto their own subjects. Existing rows
get '' (the production prefix), so an upgrade in place changes nothing for them. The partial
index on unsent rows leads with the prefix, the relay's first predicate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column("stream_prefix", sa.Text(), server_default=sa.text("''"), nullable=False),
    )
    op.drop_index("ix_outbox_available_at_unsent", table_name="outbox")
    op.create_index(
        "ix_outbox_prefix_available_at_unsent",
        "outbox",
        ["stream_prefix", "available_at"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_prefix_available_at_unsent", table_name="outbox")
    op.create_index(
        "ix_outbox_available_at_unsent",
        "outbox",
        ["available_at"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.drop_column("outbox", "stream_prefix")
