"""Service instances (which service processes are alive) and the contact list's index (issue 21).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

- service_instances: one row per process start (instance id, stream prefix, service, host,
  pid, started_at, last_seen_at from a ~10 s heartbeat, stopped_at on a clean stop, the
  instance's beat interval), with the (stream_prefix, service, started_at) index the
  operator page and the banner read;
- contacts (account_id, display_name, id) for live contacts: the contact list's keyset order,
  read forwards for Next and backwards for Previous (a seq scan and sort at 100,000 contacts
  before).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_instances",
        sa.Column("instance_id", sa.UUID(), nullable=False),
        sa.Column("stream_prefix", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("beat_seconds", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("instance_id", name=op.f("pk_service_instances")),
    )
    op.create_index(
        "ix_service_instances_stream_prefix_service_started_at",
        "service_instances",
        ["stream_prefix", "service", "started_at"],
    )
    op.create_index(
        "ix_contacts_account_id_display_name_id",
        "contacts",
        ["account_id", "display_name", "id"],
        postgresql_where=sa.text("deleted_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_contacts_account_id_display_name_id", table_name="contacts")
    op.drop_index(
        "ix_service_instances_stream_prefix_service_started_at", table_name="service_instances"
    )
    op.drop_table("service_instances")
