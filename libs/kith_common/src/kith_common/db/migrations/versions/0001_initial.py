"""Initial schema: every table of data-model.md §3 and the seeded reference data of §5.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Written from an autogenerate run, then reviewed by hand:
- the extensions `pg_trgm` (contacts.display_name GIN index) and `citext` (emails) come
  first; both are trusted, so the migration role needs CREATE on the database, not superuser;
- contacts.avatar_photo_id → photos closes a cycle: that FK is added once photos exists;
- same-account FKs that may be nulled use `ON DELETE SET NULL (col)` (PostgreSQL 15+);
- the seeded reference rows are global (account_id NULL), carry a stable `key` and are
  inserted with ON CONFLICT DO NOTHING.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS citext")

    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), server_default=sa.text("'Etc/UTC'"), nullable=False),
        sa.Column("locale", sa.Text(), server_default=sa.text("'en'"), nullable=False),
        sa.Column("phone_format", sa.Text(), server_default=sa.text("'e164'"), nullable=False),
        sa.Column("generation", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "phone_format IN ('e164', 'national', 'international', 'raw')",
            name=op.f("ck_accounts_phone_format"),
        ),
        sa.CheckConstraint("generation >= 1", name=op.f("ck_accounts_generation_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("message_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("consumer", "message_id", name=op.f("pk_inbox")),
    )
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"], unique=False)
    op.create_table(
        "operator_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("token_prefix", sa.Text(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_operator_tokens_token_hash")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("envelope", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("generation", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "available_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_available_at_unsent",
        "outbox",
        ["available_at"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("tat", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    op.create_table(
        "audit_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("user_name", sa.Text(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("contact_name", sa.Text(), nullable=True),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "event IN ('contact_created', 'contact_updated', 'contact_archived', 'contact_restored', 'contact_deleted', 'contact_purged', 'contacts_merged', 'user_joined', 'user_role_changed', 'user_removed', 'invitation_sent', 'invitation_accepted', 'token_created', 'token_revoked', 'data_imported', 'import_cancelled', 'account_data_reset')",
            name=op.f("ck_audit_logs_event"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_audit_logs_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_logs")),
    )
    op.create_index(
        "ix_audit_logs_account_id_contact_id",
        "audit_logs",
        ["account_id", "contact_id"],
        unique=False,
        postgresql_where=sa.text("contact_id IS NOT NULL"),
    )
    op.create_index(
        "ix_audit_logs_account_id_created_at",
        "audit_logs",
        ["account_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index(
        "ix_audit_logs_account_id_event", "audit_logs", ["account_id", "event"], unique=False
    )
    op.create_table(
        "contact_field_types",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("protocol", sa.Text(), nullable=True),
        sa.Column(
            "kind",
            sa.Text(),
            sa.Computed(
                "CASE WHEN protocol IS NULL THEN 'other' WHEN protocol = 'mailto:' THEN 'email' WHEN protocol = 'tel:' THEN 'phone' WHEN protocol = 'impp:' THEN 'impp' WHEN protocol IN ('https://', 'http://') THEN 'url' ELSE 'social' END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("vcard_label", sa.Text(), nullable=True),
        sa.Column("icon", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "protocol IS NULL OR protocol IN ('mailto:', 'tel:', 'impp:') OR protocol ~ '^https?://'",
            name=op.f("ck_contact_field_types_protocol"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contact_field_types_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_field_types")),
        sa.UniqueConstraint(
            "account_id",
            "name",
            name=op.f("uq_contact_field_types_account_id_name"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        "uq_contact_field_types_key",
        "contact_field_types",
        ["key"],
        unique=True,
        postgresql_where=sa.text("key IS NOT NULL"),
    )
    op.create_table(
        "dedup_key_state",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("key_version", sa.Text(), nullable=True),
        sa.Column("backfill_cursor", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_dedup_key_state_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_dedup_key_state")),
    )
    op.create_table(
        "genders",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_genders_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_genders")),
        sa.UniqueConstraint(
            "account_id",
            "name",
            name=op.f("uq_genders_account_id_name"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        "uq_genders_key",
        "genders",
        ["key"],
        unique=True,
        postgresql_where=sa.text("key IS NOT NULL"),
    )
    op.create_table(
        "import_connection_checks",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("api_url", sa.Text(), nullable=False),
        sa.Column("api_key_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_import_connection_checks_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_connection_checks")),
    )
    op.create_index(
        "ix_import_connection_checks_account_id",
        "import_connection_checks",
        ["account_id"],
        unique=False,
    )
    op.create_index(
        "ix_import_connection_checks_expires_at",
        "import_connection_checks",
        ["expires_at"],
        unique=False,
    )
    op.create_table(
        "life_event_types",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("icon", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "category IN ('career', 'education', 'family', 'health', 'home', 'travel', 'other')",
            name=op.f("ck_life_event_types_category"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_life_event_types_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_life_event_types")),
        sa.UniqueConstraint(
            "account_id",
            "name",
            name=op.f("uq_life_event_types_account_id_name"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        "uq_life_event_types_key",
        "life_event_types",
        ["key"],
        unique=True,
        postgresql_where=sa.text("key IS NOT NULL"),
    )
    op.create_table(
        "relationship_types",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("reverse_name", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_relationship_types_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relationship_types")),
        sa.UniqueConstraint(
            "account_id",
            "name",
            name=op.f("uq_relationship_types_account_id_name"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        "uq_relationship_types_key",
        "relationship_types",
        ["key"],
        unique=True,
        postgresql_where=sa.text("key IS NOT NULL"),
    )
    op.create_table(
        "reminder_rules",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "active OR days_before <> 0", name=op.f("ck_reminder_rules_same_day_rule_active")
        ),
        sa.CheckConstraint("days_before >= 0", name=op.f("ck_reminder_rules_days_before")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_reminder_rules_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_rules")),
        sa.UniqueConstraint(
            "account_id", "days_before", name=op.f("uq_reminder_rules_account_id_days_before")
        ),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("color", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("color ~ '^#[0-9A-Fa-f]{6}$'", name=op.f("ck_tags_color")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_tags_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("account_id", "id", name=op.f("uq_tags_account_id_id")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_tags_account_id_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("email", postgresql.CITEXT(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("role IN ('admin', 'editor', 'viewer')", name=op.f("ck_users_role")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_users_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("account_id", "id", name=op.f("uq_users_account_id_id")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "account_invitations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("email", postgresql.CITEXT(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("invited_by_id", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'editor', 'viewer')", name=op.f("ck_account_invitations_role")
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "invited_by_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_account_invitations_account_id_invited_by_id_users"),
            ondelete="SET NULL (invited_by_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_invitations_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_invitations_token_hash")),
    )
    op.create_index(
        "ix_account_invitations_account_id_invited_by_id",
        "account_invitations",
        ["account_id", "invited_by_id"],
        unique=False,
        postgresql_where=sa.text("invited_by_id IS NOT NULL"),
    )
    op.create_index(
        "uq_account_invitations_account_id_email_open",
        "account_invitations",
        ["account_id", "email"],
        unique=True,
        postgresql_where=sa.text("accepted_at IS NULL"),
    )
    op.create_table(
        "account_resets",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("requested_by_id", sa.BigInteger(), nullable=True),
        sa.Column("requested_by_name", sa.Text(), nullable=True),
        sa.Column("correlation_id", sa.UUID(), nullable=True),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "totals",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "stage IN ('accepted', 'stopping_imports', 'storage', 'domains', 'contacts', 'done')",
            name=op.f("ck_account_resets_stage"),
        ),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed')", name=op.f("ck_account_resets_status")
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "requested_by_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_account_resets_account_id_requested_by_id_users"),
            ondelete="SET NULL (requested_by_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_resets_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_resets")),
        sa.UniqueConstraint("account_id", "id", name=op.f("uq_account_resets_account_id_id")),
    )
    op.create_index(
        "ix_account_resets_account_id_requested_at",
        "account_resets",
        ["account_id", sa.literal_column("requested_at DESC")],
        unique=False,
    )
    op.create_index(
        "ix_account_resets_account_id_requested_by_id",
        "account_resets",
        ["account_id", "requested_by_id"],
        unique=False,
        postgresql_where=sa.text("requested_by_id IS NOT NULL"),
    )
    op.create_index(
        "uq_account_resets_account_id_running",
        "account_resets",
        ["account_id"],
        unique=True,
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "activities",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_private", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "creator_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_activities_account_id_creator_id_users"),
            ondelete="SET NULL (creator_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_activities_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint("account_id", "id", name=op.f("uq_activities_account_id_id")),
    )
    op.create_index(
        "ix_activities_account_id_creator_id",
        "activities",
        ["account_id", "creator_id"],
        unique=False,
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("token_prefix", sa.Text(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "user_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_api_tokens_account_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_api_tokens_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(
        "ix_api_tokens_account_id_user_id", "api_tokens", ["account_id", "user_id"], unique=False
    )
    op.create_table(
        "contact_merges",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("merge_id", sa.UUID(), nullable=False),
        sa.Column("survivor_id", sa.BigInteger(), nullable=False),
        sa.Column("loser_id", sa.BigInteger(), nullable=False),
        sa.Column("import_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("requested_by_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error_code", sa.Text(), nullable=True),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source IN ('api', 'auto_merge')", name=op.f("ck_contact_merges_source")
        ),
        sa.CheckConstraint("status IN ('done', 'failed')", name=op.f("ck_contact_merges_status")),
        sa.ForeignKeyConstraint(
            ["account_id", "requested_by_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_contact_merges_account_id_requested_by_id_users"),
            ondelete="SET NULL (requested_by_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contact_merges_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("merge_id", name=op.f("pk_contact_merges")),
    )
    op.create_index(
        "ix_contact_merges_account_id_created_at",
        "contact_merges",
        ["account_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index(
        "ix_contact_merges_account_id_requested_by_id",
        "contact_merges",
        ["account_id", "requested_by_id"],
        unique=False,
        postgresql_where=sa.text("requested_by_id IS NOT NULL"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("middle_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("nickname", sa.Text(), nullable=True),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("gender_id", sa.BigInteger(), nullable=True),
        sa.Column("birthdate", sa.Date(), nullable=True),
        sa.Column(
            "birthdate_year_unknown", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("job_title", sa.Text(), nullable=True),
        sa.Column("favorite", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_archived", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_partial", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("deceased", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("deceased_on", sa.Date(), nullable=True),
        sa.Column("avatar_photo_id", sa.BigInteger(), nullable=True),
        sa.Column("first_met_at", sa.Date(), nullable=True),
        sa.Column(
            "first_met_year_unknown", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("first_met_where", sa.Text(), nullable=True),
        sa.Column("first_met_additional_info", sa.Text(), nullable=True),
        sa.Column("first_met_through_id", sa.BigInteger(), nullable=True),
        sa.Column("last_talked_to_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_into_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "first_met_through_id <> id", name=op.f("ck_contacts_first_met_through_not_self")
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "first_met_through_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_contacts_account_id_first_met_through_id_contacts"),
            ondelete="SET NULL (first_met_through_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "merged_into_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_contacts_account_id_merged_into_id_contacts"),
            ondelete="SET NULL (merged_into_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contacts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["gender_id"],
            ["genders.id"],
            name=op.f("fk_contacts_gender_id_genders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("account_id", "id", name=op.f("uq_contacts_account_id_id")),
    )
    op.create_index(
        "ix_contacts_account_id_avatar_photo_id",
        "contacts",
        ["account_id", "avatar_photo_id"],
        unique=False,
        postgresql_where=sa.text("avatar_photo_id IS NOT NULL"),
    )
    op.create_index(
        "ix_contacts_account_id_deleted_at",
        "contacts",
        ["account_id", "deleted_at"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.create_index(
        "ix_contacts_account_id_first_met_through_id",
        "contacts",
        ["account_id", "first_met_through_id"],
        unique=False,
        postgresql_where=sa.text("first_met_through_id IS NOT NULL"),
    )
    op.create_index(
        "ix_contacts_account_id_last_name_first_name_id",
        "contacts",
        ["account_id", "last_name", "first_name", "id"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "ix_contacts_account_id_merged_into_id",
        "contacts",
        ["account_id", "merged_into_id"],
        unique=False,
        postgresql_where=sa.text("merged_into_id IS NOT NULL"),
    )
    op.create_index(
        "ix_contacts_display_name_trgm",
        "contacts",
        ["display_name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"display_name": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_contacts_gender_id",
        "contacts",
        ["gender_id"],
        unique=False,
        postgresql_where=sa.text("gender_id IS NOT NULL"),
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("misc_status", sa.Text(), nullable=True),
        sa.Column("media_status", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("api_url", sa.Text(), nullable=True),
        sa.Column("api_key_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column(
            "options",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "summary",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "sync_summary",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "checkpoint",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_storage_key", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "api_key_encrypted IS NULL OR status IN ('pending', 'processing')"
            " OR COALESCE(misc_status, '') IN ('pending', 'processing')"
            " OR COALESCE(media_status, '') IN ('pending', 'processing')",
            name=op.f("ck_imports_api_key_needed"),
        ),
        sa.CheckConstraint(
            "cancel_reason IN ('user', 'account_reset')", name=op.f("ck_imports_cancel_reason")
        ),
        sa.CheckConstraint(
            "media_status IN ('pending', 'processing', 'completed', 'failed', 'cancelling', 'cancelled')",
            name=op.f("ck_imports_media_status"),
        ),
        sa.CheckConstraint(
            "misc_status IN ('pending', 'processing', 'completed', 'failed', 'cancelling', 'cancelled')",
            name=op.f("ck_imports_misc_status"),
        ),
        sa.CheckConstraint("source IN ('monica_api', 'vcard')", name=op.f("ck_imports_source")),
        sa.CheckConstraint(
            "starts_with(file_storage_key, 'a/' || account_id::text || '/')",
            name=op.f("ck_imports_file_storage_key_prefix"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'completed', 'failed', 'cancelling', 'cancelled')",
            name=op.f("ck_imports_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "user_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_imports_account_id_user_id_users"),
            ondelete="SET NULL (user_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_imports_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
        sa.UniqueConstraint("account_id", "id", name=op.f("uq_imports_account_id_id")),
    )
    op.create_index(
        "ix_imports_account_id_user_id",
        "imports",
        ["account_id", "user_id"],
        unique=False,
        postgresql_where=sa.text("user_id IS NOT NULL"),
    )
    op.create_index(
        "uq_imports_account_id_live",
        "imports",
        ["account_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('pending', 'processing', 'cancelling')"),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mood", sa.Text(), nullable=True),
        sa.Column("is_private", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "mood IN ('great', 'good', 'neutral', 'bad', 'awful')",
            name=op.f("ck_journal_entries_mood"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "author_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_journal_entries_account_id_author_id_users"),
            ondelete="SET NULL (author_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_journal_entries_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
    )
    op.create_index(
        "ix_journal_entries_account_id_author_id",
        "journal_entries",
        ["account_id", "author_id"],
        unique=False,
        postgresql_where=sa.text("author_id IS NOT NULL"),
    )
    op.create_index(
        "ix_journal_entries_account_id_occurred_at",
        "journal_entries",
        ["account_id", sa.literal_column("occurred_at DESC")],
        unique=False,
    )
    op.create_table(
        "account_reset_domains",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("reset_id", sa.BigInteger(), nullable=False),
        sa.Column("domain", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column(
            "counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("deliveries", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("checkpoint", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "stage IN ('storage', 'domains', 'contacts')",
            name=op.f("ck_account_reset_domains_stage"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed')",
            name=op.f("ck_account_reset_domains_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "reset_id"],
            ["account_resets.account_id", "account_resets.id"],
            name=op.f("fk_account_reset_domains_account_id_reset_id_account_resets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_reset_domains_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("reset_id", "domain", name=op.f("pk_account_reset_domains")),
    )
    op.create_index(
        "ix_account_reset_domains_account_id_reset_id",
        "account_reset_domains",
        ["account_id", "reset_id"],
        unique=False,
    )
    op.create_table(
        "activity_contacts",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("activity_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "activity_id"],
            ["activities.account_id", "activities.id"],
            name=op.f("fk_activity_contacts_account_id_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_activity_contacts_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_activity_contacts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("activity_id", "contact_id", name=op.f("pk_activity_contacts")),
    )
    op.create_index(
        "ix_activity_contacts_account_id_contact_id",
        "activity_contacts",
        ["account_id", "contact_id"],
        unique=False,
    )
    op.create_table(
        "addresses",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("line1", sa.Text(), nullable=True),
        sa.Column("line2", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("province", sa.Text(), nullable=True),
        sa.Column("postal_code", sa.Text(), nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("match_key", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_addresses_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_addresses_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addresses")),
    )
    op.create_index(
        "ix_addresses_account_id_contact_id",
        "addresses",
        ["account_id", "contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_addresses_account_id_match_key",
        "addresses",
        ["account_id", "match_key"],
        unique=False,
        postgresql_where=sa.text("match_key IS NOT NULL"),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("direction", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("is_private", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "direction IN ('inbound', 'outbound', 'missed')", name=op.f("ck_calls_direction")
        ),
        sa.CheckConstraint("duration_minutes >= 0", name=op.f("ck_calls_duration_minutes")),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_calls_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "creator_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_calls_account_id_creator_id_users"),
            ondelete="SET NULL (creator_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_calls_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    op.create_index(
        "ix_calls_account_id_contact_id", "calls", ["account_id", "contact_id"], unique=False
    )
    op.create_index(
        "ix_calls_account_id_creator_id",
        "calls",
        ["account_id", "creator_id"],
        unique=False,
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.create_table(
        "contact_fields",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_field_type_id", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("match_key", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("btrim(value) <> ''", name=op.f("ck_contact_fields_value_not_blank")),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_contact_fields_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contact_fields_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_field_type_id"],
            ["contact_field_types.id"],
            name=op.f("fk_contact_fields_contact_field_type_id_contact_field_types"),
            ondelete="NO ACTION",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_fields")),
    )
    op.create_index(
        "ix_contact_fields_account_id_contact_id",
        "contact_fields",
        ["account_id", "contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_contact_fields_account_id_match_key",
        "contact_fields",
        ["account_id", "match_key"],
        unique=False,
        postgresql_where=sa.text("match_key IS NOT NULL"),
    )
    op.create_index(
        "ix_contact_fields_contact_field_type_id",
        "contact_fields",
        ["contact_field_type_id"],
        unique=False,
    )
    op.create_table(
        "contact_tags",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("tag_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_contact_tags_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "tag_id"],
            ["tags.account_id", "tags.id"],
            name=op.f("fk_contact_tags_account_id_tag_id_tags"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contact_tags_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "tag_id", name=op.f("pk_contact_tags")),
    )
    op.create_index(
        "ix_contact_tags_account_id_tag_id", "contact_tags", ["account_id", "tag_id"], unique=False
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("platform", sa.Text(), server_default=sa.text("'other'"), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("is_private", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "platform IN ('sms', 'whatsapp', 'telegram', 'email', 'instagram', 'messenger', 'signal', 'other')",
            name=op.f("ck_conversations_platform"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'archived')", name=op.f("ck_conversations_status")
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_conversations_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "creator_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_conversations_account_id_creator_id_users"),
            ondelete="SET NULL (creator_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_conversations_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("account_id", "id", name=op.f("uq_conversations_account_id_id")),
    )
    op.create_index(
        "ix_conversations_account_id_contact_id",
        "conversations",
        ["account_id", "contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_conversations_account_id_creator_id",
        "conversations",
        ["account_id", "creator_id"],
        unique=False,
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.create_table(
        "debts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=True),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("is_private", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "direction IN ('owed_to_me', 'owed_by_me')", name=op.f("ck_debts_direction")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'settled', 'written_off')", name=op.f("ck_debts_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_debts_amount_positive")),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_debts_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "creator_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_debts_account_id_creator_id_users"),
            ondelete="SET NULL (creator_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_debts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debts")),
        sa.UniqueConstraint("account_id", "id", name=op.f("uq_debts_account_id_id")),
    )
    op.create_index(
        "ix_debts_account_id_contact_id", "debts", ["account_id", "contact_id"], unique=False
    )
    op.create_index(
        "ix_debts_account_id_creator_id",
        "debts",
        ["account_id", "creator_id"],
        unique=False,
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.CHAR(length=64), nullable=True),
        sa.Column("is_private", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "content_hash ~ '^[0-9a-f]{64}$'", name=op.f("ck_documents_content_hash")
        ),
        sa.CheckConstraint(
            "starts_with(storage_key, 'a/' || account_id::text || '/')",
            name=op.f("ck_documents_storage_key_prefix"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_documents_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "creator_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_documents_account_id_creator_id_users"),
            ondelete="SET NULL (creator_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_documents_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("account_id", "id", name=op.f("uq_documents_account_id_id")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_documents_storage_key")),
    )
    op.create_index(
        "ix_documents_account_id_contact_id",
        "documents",
        ["account_id", "contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_documents_account_id_creator_id",
        "documents",
        ["account_id", "creator_id"],
        unique=False,
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.create_table(
        "duplicate_candidates",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("duplicate_contact_id", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Numeric(precision=3, scale=2), nullable=False),
        sa.Column("reasons", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column(
            "detected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "reasons <@ ARRAY['name_match', 'email_match', 'phone_match', 'address_match']",
            name=op.f("ck_duplicate_candidates_reasons"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'dismissed', 'merged', 'obsolete')",
            name=op.f("ck_duplicate_candidates_status"),
        ),
        sa.CheckConstraint(
            "contact_id < duplicate_contact_id", name=op.f("ck_duplicate_candidates_pair_order")
        ),
        sa.CheckConstraint("score >= 0 AND score <= 1", name=op.f("ck_duplicate_candidates_score")),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_duplicate_candidates_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "duplicate_contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_duplicate_candidates_account_id_duplicate_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "resolved_by_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_duplicate_candidates_account_id_resolved_by_id_users"),
            ondelete="SET NULL (resolved_by_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_duplicate_candidates_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_candidates")),
        sa.UniqueConstraint(
            "account_id",
            "contact_id",
            "duplicate_contact_id",
            name=op.f("uq_duplicate_candidates_account_id_contact_id_duplicate_contact_id"),
        ),
    )
    op.create_index(
        "ix_duplicate_candidates_account_id_duplicate_contact_id",
        "duplicate_candidates",
        ["account_id", "duplicate_contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_duplicate_candidates_account_id_resolved_by_id",
        "duplicate_candidates",
        ["account_id", "resolved_by_id"],
        unique=False,
        postgresql_where=sa.text("resolved_by_id IS NOT NULL"),
    )
    op.create_index(
        "ix_duplicate_candidates_account_id_status_score_id",
        "duplicate_candidates",
        ["account_id", "status", sa.literal_column("score DESC"), "id"],
        unique=False,
    )
    op.create_table(
        "gifts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("occasion", sa.Text(), nullable=True),
        sa.Column("occurred_on", sa.Date(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("currency", sa.CHAR(length=3), nullable=True),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'idea'"), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("is_private", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("direction IN ('given', 'received')", name=op.f("ck_gifts_direction")),
        sa.CheckConstraint(
            "occasion IN ('birthday', 'christmas', 'anniversary', 'wedding', 'thank_you', 'other')",
            name=op.f("ck_gifts_occasion"),
        ),
        sa.CheckConstraint(
            "status IN ('idea', 'purchased', 'given', 'received')", name=op.f("ck_gifts_status")
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_gifts_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "creator_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_gifts_account_id_creator_id_users"),
            ondelete="SET NULL (creator_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_gifts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gifts")),
    )
    op.create_index(
        "ix_gifts_account_id_contact_id", "gifts", ["account_id", "contact_id"], unique=False
    )
    op.create_index(
        "ix_gifts_account_id_creator_id",
        "gifts",
        ["account_id", "creator_id"],
        unique=False,
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.create_table(
        "import_records",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("import_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_entity_type", sa.Text(), nullable=False),
        sa.Column("source_entity_id", sa.Text(), nullable=False),
        sa.Column("local_entity_type", sa.Text(), nullable=False),
        sa.Column("local_entity_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source_entity_type IN ('contact', 'contact_field', 'address', 'note', 'relationship', 'document', 'pet', 'call', 'activity', 'gift', 'debt', 'task', 'reminder', 'conversation', 'message', 'photo', 'life_event', 'journal_entry')",
            name=op.f("ck_import_records_source_entity_type"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "import_id"],
            ["imports.account_id", "imports.id"],
            name=op.f("fk_import_records_account_id_import_id_imports"),
            ondelete="SET NULL (import_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_import_records_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_records")),
        sa.UniqueConstraint(
            "account_id",
            "source",
            "source_entity_type",
            "source_entity_id",
            name=op.f("uq_import_records_account_id_source_source_entity_type_source_entity_id"),
        ),
    )
    op.create_index(
        "ix_import_records_account_id_local_entity_type_local_entity_id",
        "import_records",
        ["account_id", "local_entity_type", "local_entity_id"],
        unique=False,
    )
    op.create_index("ix_import_records_import_id", "import_records", ["import_id"], unique=False)
    op.create_table(
        "import_staging",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("import_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "import_id"],
            ["imports.account_id", "imports.id"],
            name=op.f("fk_import_staging_account_id_import_id_imports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_import_staging_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "kind", "key", name=op.f("pk_import_staging")),
    )
    op.create_index(
        "ix_import_staging_account_id_import_id",
        "import_staging",
        ["account_id", "import_id"],
        unique=False,
    )
    op.create_table(
        "life_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("life_event_type_id", sa.BigInteger(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("is_private", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_life_events_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "creator_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_life_events_account_id_creator_id_users"),
            ondelete="SET NULL (creator_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_life_events_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["life_event_type_id"],
            ["life_event_types.id"],
            name=op.f("fk_life_events_life_event_type_id_life_event_types"),
            ondelete="NO ACTION",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_life_events")),
    )
    op.create_index(
        "ix_life_events_account_id_contact_id",
        "life_events",
        ["account_id", "contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_life_events_account_id_creator_id",
        "life_events",
        ["account_id", "creator_id"],
        unique=False,
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.create_index(
        "ix_life_events_life_event_type_id", "life_events", ["life_event_type_id"], unique=False
    )
    op.create_table(
        "notes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("favorite", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_private", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "author_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_notes_account_id_author_id_users"),
            ondelete="SET NULL (author_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_notes_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_notes_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(
        "ix_notes_account_id_author_id",
        "notes",
        ["account_id", "author_id"],
        unique=False,
        postgresql_where=sa.text("author_id IS NOT NULL"),
    )
    op.create_index(
        "ix_notes_account_id_contact_id_created_at",
        "notes",
        ["account_id", "contact_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_table(
        "pets",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("species", sa.Text(), server_default=sa.text("'other'"), nullable=False),
        sa.Column("breed", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("is_private", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "species IN ('dog', 'cat', 'bird', 'fish', 'reptile', 'rabbit', 'hamster', 'other')",
            name=op.f("ck_pets_species"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_pets_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_pets_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pets")),
    )
    op.create_index(
        "ix_pets_account_id_contact_id", "pets", ["account_id", "contact_id"], unique=False
    )
    op.create_table(
        "photos",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("is_private", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("content_hash ~ '^[0-9a-f]{64}$'", name=op.f("ck_photos_content_hash")),
        sa.CheckConstraint(
            "starts_with(storage_key, 'a/' || account_id::text || '/')",
            name=op.f("ck_photos_storage_key_prefix"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_photos_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "creator_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_photos_account_id_creator_id_users"),
            ondelete="SET NULL (creator_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_photos_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photos")),
        sa.UniqueConstraint("account_id", "id", name=op.f("uq_photos_account_id_id")),
        sa.UniqueConstraint(
            "contact_id", "content_hash", name=op.f("uq_photos_contact_id_content_hash")
        ),
        sa.UniqueConstraint("storage_key", name=op.f("uq_photos_storage_key")),
    )
    op.create_index(
        "ix_photos_account_id_contact_id", "photos", ["account_id", "contact_id"], unique=False
    )
    op.create_index(
        "ix_photos_account_id_creator_id",
        "photos",
        ["account_id", "creator_id"],
        unique=False,
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.create_table(
        "relationships",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("related_contact_id", sa.BigInteger(), nullable=False),
        sa.Column("relationship_type_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "contact_id <> related_contact_id", name=op.f("ck_relationships_not_self")
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_relationships_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "related_contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_relationships_account_id_related_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_relationships_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["relationship_type_id"],
            ["relationship_types.id"],
            name=op.f("fk_relationships_relationship_type_id_relationship_types"),
            ondelete="NO ACTION",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relationships")),
        sa.UniqueConstraint(
            "account_id",
            "contact_id",
            "related_contact_id",
            "relationship_type_id",
            name=op.f(
                "uq_relationships_account_id_contact_id_related_contact_id_relationship_type_id"
            ),
        ),
    )
    op.create_index(
        "ix_relationships_account_id_related_contact_id",
        "relationships",
        ["account_id", "related_contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_relationships_relationship_type_id",
        "relationships",
        ["relationship_type_id"],
        unique=False,
    )
    op.create_table(
        "reminders",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("frequency", sa.Text(), nullable=True),
        sa.Column("next_reminder_on", sa.Date(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(type IN ('stay_in_touch', 'recurring')) = (frequency IS NOT NULL)",
            name=op.f("ck_reminders_frequency_required"),
        ),
        sa.CheckConstraint(
            "frequency IN ('weekly', 'biweekly', 'monthly', '3months', '6months', 'annually')",
            name=op.f("ck_reminders_frequency"),
        ),
        sa.CheckConstraint(
            "type IN ('birthday', 'stay_in_touch', 'one_time', 'recurring')",
            name=op.f("ck_reminders_type"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_reminders_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "creator_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_reminders_account_id_creator_id_users"),
            ondelete="SET NULL (creator_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_reminders_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
    )
    op.create_index(
        "ix_reminders_account_id_contact_id",
        "reminders",
        ["account_id", "contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_reminders_account_id_creator_id",
        "reminders",
        ["account_id", "creator_id"],
        unique=False,
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.create_index(
        "ix_reminders_account_id_next_reminder_on_active",
        "reminders",
        ["account_id", "next_reminder_on"],
        unique=False,
        postgresql_where=sa.text("active"),
    )
    op.create_index(
        "uq_reminders_contact_id_birthday",
        "reminders",
        ["contact_id"],
        unique=True,
        postgresql_where=sa.text("type = 'birthday'"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("creator_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("priority", sa.Text(), server_default=sa.text("'medium'"), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_private", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("priority IN ('low', 'medium', 'high')", name=op.f("ck_tasks_priority")),
        sa.CheckConstraint(
            "status IN ('pending', 'in_progress', 'completed', 'cancelled')",
            name=op.f("ck_tasks_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "contact_id"],
            ["contacts.account_id", "contacts.id"],
            name=op.f("fk_tasks_account_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "creator_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_tasks_account_id_creator_id_users"),
            ondelete="SET NULL (creator_id)",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_tasks_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(
        "ix_tasks_account_id_contact_id",
        "tasks",
        ["account_id", "contact_id"],
        unique=False,
        postgresql_where=sa.text("contact_id IS NOT NULL"),
    )
    op.create_index(
        "ix_tasks_account_id_creator_id",
        "tasks",
        ["account_id", "creator_id"],
        unique=False,
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.create_index(
        "ix_tasks_account_id_status_due_on",
        "tasks",
        ["account_id", "status", "due_on"],
        unique=False,
    )
    op.create_table(
        "debt_payments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("debt_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_debt_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["account_id", "debt_id"],
            ["debts.account_id", "debts.id"],
            name=op.f("fk_debt_payments_account_id_debt_id_debts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_debt_payments_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debt_payments")),
    )
    op.create_index(
        "ix_debt_payments_account_id_debt_id",
        "debt_payments",
        ["account_id", "debt_id"],
        unique=False,
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("direction IN ('sent', 'received')", name=op.f("ck_messages_direction")),
        sa.ForeignKeyConstraint(
            ["account_id", "conversation_id"],
            ["conversations.account_id", "conversations.id"],
            name=op.f("fk_messages_account_id_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_messages_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index(
        "ix_messages_account_id_conversation_id_sent_at",
        "messages",
        ["account_id", "conversation_id", "sent_at"],
        unique=False,
    )
    # contacts ↔ photos: the avatar FK can only exist once both tables do.
    op.create_foreign_key(
        op.f("fk_contacts_account_id_avatar_photo_id_photos"),
        "contacts",
        "photos",
        ["account_id", "avatar_photo_id"],
        ["account_id", "id"],
        ondelete="SET NULL (avatar_photo_id)",
    )
    _seed_reference_data()


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_contacts_account_id_avatar_photo_id_photos"), "contacts", type_="foreignkey"
    )
    op.drop_index("ix_messages_account_id_conversation_id_sent_at", table_name="messages")
    op.drop_table("messages")
    op.drop_index("ix_debt_payments_account_id_debt_id", table_name="debt_payments")
    op.drop_table("debt_payments")
    op.drop_index("ix_tasks_account_id_status_due_on", table_name="tasks")
    op.drop_index(
        "ix_tasks_account_id_creator_id",
        table_name="tasks",
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.drop_index(
        "ix_tasks_account_id_contact_id",
        table_name="tasks",
        postgresql_where=sa.text("contact_id IS NOT NULL"),
    )
    op.drop_table("tasks")
    op.drop_index(
        "uq_reminders_contact_id_birthday",
        table_name="reminders",
        postgresql_where=sa.text("type = 'birthday'"),
    )
    op.drop_index(
        "ix_reminders_account_id_next_reminder_on_active",
        table_name="reminders",
        postgresql_where=sa.text("active"),
    )
    op.drop_index(
        "ix_reminders_account_id_creator_id",
        table_name="reminders",
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.drop_index("ix_reminders_account_id_contact_id", table_name="reminders")
    op.drop_table("reminders")
    op.drop_index("ix_relationships_relationship_type_id", table_name="relationships")
    op.drop_index("ix_relationships_account_id_related_contact_id", table_name="relationships")
    op.drop_table("relationships")
    op.drop_index(
        "ix_photos_account_id_creator_id",
        table_name="photos",
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.drop_index("ix_photos_account_id_contact_id", table_name="photos")
    op.drop_table("photos")
    op.drop_index("ix_pets_account_id_contact_id", table_name="pets")
    op.drop_table("pets")
    op.drop_index("ix_notes_account_id_contact_id_created_at", table_name="notes")
    op.drop_index(
        "ix_notes_account_id_author_id",
        table_name="notes",
        postgresql_where=sa.text("author_id IS NOT NULL"),
    )
    op.drop_table("notes")
    op.drop_index("ix_life_events_life_event_type_id", table_name="life_events")
    op.drop_index(
        "ix_life_events_account_id_creator_id",
        table_name="life_events",
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.drop_index("ix_life_events_account_id_contact_id", table_name="life_events")
    op.drop_table("life_events")
    op.drop_index("ix_import_staging_account_id_import_id", table_name="import_staging")
    op.drop_table("import_staging")
    op.drop_index("ix_import_records_import_id", table_name="import_records")
    op.drop_index(
        "ix_import_records_account_id_local_entity_type_local_entity_id",
        table_name="import_records",
    )
    op.drop_table("import_records")
    op.drop_index(
        "ix_gifts_account_id_creator_id",
        table_name="gifts",
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.drop_index("ix_gifts_account_id_contact_id", table_name="gifts")
    op.drop_table("gifts")
    op.drop_index(
        "ix_duplicate_candidates_account_id_status_score_id", table_name="duplicate_candidates"
    )
    op.drop_index(
        "ix_duplicate_candidates_account_id_resolved_by_id",
        table_name="duplicate_candidates",
        postgresql_where=sa.text("resolved_by_id IS NOT NULL"),
    )
    op.drop_index(
        "ix_duplicate_candidates_account_id_duplicate_contact_id", table_name="duplicate_candidates"
    )
    op.drop_table("duplicate_candidates")
    op.drop_index(
        "ix_documents_account_id_creator_id",
        table_name="documents",
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.drop_index("ix_documents_account_id_contact_id", table_name="documents")
    op.drop_table("documents")
    op.drop_index(
        "ix_debts_account_id_creator_id",
        table_name="debts",
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.drop_index("ix_debts_account_id_contact_id", table_name="debts")
    op.drop_table("debts")
    op.drop_index(
        "ix_conversations_account_id_creator_id",
        table_name="conversations",
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.drop_index("ix_conversations_account_id_contact_id", table_name="conversations")
    op.drop_table("conversations")
    op.drop_index("ix_contact_tags_account_id_tag_id", table_name="contact_tags")
    op.drop_table("contact_tags")
    op.drop_index("ix_contact_fields_contact_field_type_id", table_name="contact_fields")
    op.drop_index(
        "ix_contact_fields_account_id_match_key",
        table_name="contact_fields",
        postgresql_where=sa.text("match_key IS NOT NULL"),
    )
    op.drop_index("ix_contact_fields_account_id_contact_id", table_name="contact_fields")
    op.drop_table("contact_fields")
    op.drop_index(
        "ix_calls_account_id_creator_id",
        table_name="calls",
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.drop_index("ix_calls_account_id_contact_id", table_name="calls")
    op.drop_table("calls")
    op.drop_index(
        "ix_addresses_account_id_match_key",
        table_name="addresses",
        postgresql_where=sa.text("match_key IS NOT NULL"),
    )
    op.drop_index("ix_addresses_account_id_contact_id", table_name="addresses")
    op.drop_table("addresses")
    op.drop_index("ix_activity_contacts_account_id_contact_id", table_name="activity_contacts")
    op.drop_table("activity_contacts")
    op.drop_index(
        "ix_account_reset_domains_account_id_reset_id", table_name="account_reset_domains"
    )
    op.drop_table("account_reset_domains")
    op.drop_index("ix_journal_entries_account_id_occurred_at", table_name="journal_entries")
    op.drop_index(
        "ix_journal_entries_account_id_author_id",
        table_name="journal_entries",
        postgresql_where=sa.text("author_id IS NOT NULL"),
    )
    op.drop_table("journal_entries")
    op.drop_index(
        "uq_imports_account_id_live",
        table_name="imports",
        postgresql_where=sa.text("status IN ('pending', 'processing', 'cancelling')"),
    )
    op.drop_index(
        "ix_imports_account_id_user_id",
        table_name="imports",
        postgresql_where=sa.text("user_id IS NOT NULL"),
    )
    op.drop_table("imports")
    op.drop_index(
        "ix_contacts_gender_id",
        table_name="contacts",
        postgresql_where=sa.text("gender_id IS NOT NULL"),
    )
    op.drop_index(
        "ix_contacts_display_name_trgm",
        table_name="contacts",
        postgresql_using="gin",
        postgresql_ops={"display_name": "gin_trgm_ops"},
    )
    op.drop_index(
        "ix_contacts_account_id_merged_into_id",
        table_name="contacts",
        postgresql_where=sa.text("merged_into_id IS NOT NULL"),
    )
    op.drop_index(
        "ix_contacts_account_id_last_name_first_name_id",
        table_name="contacts",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index(
        "ix_contacts_account_id_first_met_through_id",
        table_name="contacts",
        postgresql_where=sa.text("first_met_through_id IS NOT NULL"),
    )
    op.drop_index(
        "ix_contacts_account_id_deleted_at",
        table_name="contacts",
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.drop_index(
        "ix_contacts_account_id_avatar_photo_id",
        table_name="contacts",
        postgresql_where=sa.text("avatar_photo_id IS NOT NULL"),
    )
    op.drop_table("contacts")
    op.drop_index(
        "ix_contact_merges_account_id_requested_by_id",
        table_name="contact_merges",
        postgresql_where=sa.text("requested_by_id IS NOT NULL"),
    )
    op.drop_index("ix_contact_merges_account_id_created_at", table_name="contact_merges")
    op.drop_table("contact_merges")
    op.drop_index("ix_api_tokens_account_id_user_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index(
        "ix_activities_account_id_creator_id",
        table_name="activities",
        postgresql_where=sa.text("creator_id IS NOT NULL"),
    )
    op.drop_table("activities")
    op.drop_index(
        "uq_account_resets_account_id_running",
        table_name="account_resets",
        postgresql_where=sa.text("status = 'running'"),
    )
    op.drop_index(
        "ix_account_resets_account_id_requested_by_id",
        table_name="account_resets",
        postgresql_where=sa.text("requested_by_id IS NOT NULL"),
    )
    op.drop_index("ix_account_resets_account_id_requested_at", table_name="account_resets")
    op.drop_table("account_resets")
    op.drop_index(
        "uq_account_invitations_account_id_email_open",
        table_name="account_invitations",
        postgresql_where=sa.text("accepted_at IS NULL"),
    )
    op.drop_index(
        "ix_account_invitations_account_id_invited_by_id",
        table_name="account_invitations",
        postgresql_where=sa.text("invited_by_id IS NOT NULL"),
    )
    op.drop_table("account_invitations")
    op.drop_table("users")
    op.drop_table("tags")
    op.drop_table("reminder_rules")
    op.drop_index(
        "uq_relationship_types_key",
        table_name="relationship_types",
        postgresql_where=sa.text("key IS NOT NULL"),
    )
    op.drop_table("relationship_types")
    op.drop_index(
        "uq_life_event_types_key",
        table_name="life_event_types",
        postgresql_where=sa.text("key IS NOT NULL"),
    )
    op.drop_table("life_event_types")
    op.drop_index("ix_import_connection_checks_expires_at", table_name="import_connection_checks")
    op.drop_index("ix_import_connection_checks_account_id", table_name="import_connection_checks")
    op.drop_table("import_connection_checks")
    op.drop_index(
        "uq_genders_key", table_name="genders", postgresql_where=sa.text("key IS NOT NULL")
    )
    op.drop_table("genders")
    op.drop_table("dedup_key_state")
    op.drop_index(
        "uq_contact_field_types_key",
        table_name="contact_field_types",
        postgresql_where=sa.text("key IS NOT NULL"),
    )
    op.drop_table("contact_field_types")
    op.drop_index("ix_audit_logs_account_id_event", table_name="audit_logs")
    op.drop_index("ix_audit_logs_account_id_created_at", table_name="audit_logs")
    op.drop_index(
        "ix_audit_logs_account_id_contact_id",
        table_name="audit_logs",
        postgresql_where=sa.text("contact_id IS NOT NULL"),
    )
    op.drop_table("audit_logs")
    op.drop_table("rate_limits")
    op.drop_index(
        "ix_outbox_available_at_unsent",
        table_name="outbox",
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.drop_table("outbox")
    op.drop_table("operator_tokens")
    op.drop_index("ix_inbox_processed_at", table_name="inbox")
    op.drop_table("inbox")
    op.drop_table("accounts")
    # The extensions stay: other objects of the database may use them.


# data-model.md §5. Keys are stable slugs; code looks seeded rows up by key, never by name.
CONTACT_FIELD_TYPES = [
    # key, name, protocol, vCard label (kind is computed from the protocol)
    ("email", "Email", "mailto:", "EMAIL"),
    ("phone", "Phone", "tel:", "TEL"),
    ("mobile", "Mobile", "tel:", "TEL;TYPE=CELL"),
    ("work_phone", "Work phone", "tel:", "TEL;TYPE=WORK"),
    ("fax", "Fax", "tel:", "TEL;TYPE=FAX"),
    ("website", "Website", "https://", "URL"),
    ("twitter", "Twitter", "https://twitter.com/", None),
    ("facebook", "Facebook", "https://facebook.com/", None),
    ("linkedin", "LinkedIn", "https://linkedin.com/in/", None),
    ("instagram", "Instagram", "https://instagram.com/", None),
    ("telegram", "Telegram", "https://t.me/", None),
    ("whatsapp", "WhatsApp", "https://wa.me/", None),
    ("impp", "IMPP", "impp:", "IMPP"),
]

GENDERS = [
    ("male", "Male"),
    ("female", "Female"),
    ("non_binary", "Non-binary"),
    ("other", "Other"),
]

RELATIONSHIP_TYPES = [
    # key, name, reverse name
    ("partner", "Partner", "Partner"),
    ("spouse", "Spouse", "Spouse"),
    ("ex_partner", "Ex-partner", "Ex-partner"),
    ("date", "Date", "Date"),
    ("parent", "Parent", "Child"),
    ("grandparent", "Grandparent", "Grandchild"),
    ("sibling", "Sibling", "Sibling"),
    ("cousin", "Cousin", "Cousin"),
    ("uncle_or_aunt", "Uncle or aunt", "Nephew or niece"),
    ("godparent", "Godparent", "Godchild"),
    ("step_parent", "Step-parent", "Step-child"),
    ("friend", "Friend", "Friend"),
    ("best_friend", "Best friend", "Best friend"),
    ("colleague", "Colleague", "Colleague"),
    ("boss", "Boss", "Subordinate"),
    ("mentor", "Mentor", "Mentee"),
    ("neighbour", "Neighbour", "Neighbour"),
    ("acquaintance", "Acquaintance", "Acquaintance"),
]

LIFE_EVENT_TYPES = [
    # key, name, category
    ("new_job", "New job", "career"),
    ("promotion", "Promotion", "career"),
    ("left_a_job", "Left a job", "career"),
    ("retirement", "Retirement", "career"),
    ("started_studies", "Started studies", "education"),
    ("graduation", "Graduation", "education"),
    ("engagement", "Engagement", "family"),
    ("marriage", "Marriage", "family"),
    ("birth_of_a_child", "Birth of a child", "family"),
    ("divorce", "Divorce", "family"),
    ("loss_of_a_loved_one", "Loss of a loved one", "family"),
    ("illness", "Illness", "health"),
    ("surgery", "Surgery", "health"),
    ("recovery", "Recovery", "health"),
    ("moved", "Moved", "home"),
    ("bought_a_home", "Bought a home", "home"),
    ("trip", "Trip", "travel"),
    ("other", "Other", "other"),
]


def _insert(table: str, columns: list[str], rows: list[dict[str, object]]) -> None:
    # Typed columns so `alembic upgrade --sql` can render the values as literals.
    target = sa.table(
        table,
        *(sa.column(name, sa.Integer() if name == "position" else sa.Text()) for name in columns),
    )
    op.execute(postgresql.insert(target).values(rows).on_conflict_do_nothing())


def _seed_reference_data() -> None:
    _insert(
        "contact_field_types",
        ["key", "name", "protocol", "vcard_label", "position"],
        [
            {"key": k, "name": n, "protocol": p, "vcard_label": v, "position": i}
            for i, (k, n, p, v) in enumerate(CONTACT_FIELD_TYPES)
        ],
    )
    _insert(
        "genders",
        ["key", "name", "position"],
        [{"key": k, "name": n, "position": i} for i, (k, n) in enumerate(GENDERS)],
    )
    _insert(
        "relationship_types",
        ["key", "name", "reverse_name", "position"],
        [
            {"key": k, "name": n, "reverse_name": r, "position": i}
            for i, (k, n, r) in enumerate(RELATIONSHIP_TYPES)
        ],
    )
    _insert(
        "life_event_types",
        ["key", "name", "category", "position"],
        [
            {"key": k, "name": n, "category": c, "position": i}
            for i, (k, n, c) in enumerate(LIFE_EVENT_TYPES)
        ],
    )
