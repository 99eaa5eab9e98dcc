"""Outbox rows carry the order they were written in; the relay publishes in that order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

`created_at` is `now()`, the start of the writing transaction, so every event of one
transaction had the same timestamp and the relay's tie-break was the random envelope id: a
photo sync's last progress event could reach subscribers after its `sync_completed`. An
identity column numbers rows as they are inserted. Existing rows are numbered when the column
is added (in no particular order, which is what they had).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("outbox", "seq")
