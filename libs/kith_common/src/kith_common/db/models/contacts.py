"""The contacts domain (data-model.md §3.3); owner `reset-contacts`, which runs last, alone.

Every child references its contact through `(account_id, contact_id)`, so no row can point at
another account's contact and no cascade crosses accounts. Reference types are single-column
FKs `ON DELETE NO ACTION` (a type in use cannot be deleted).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, CreatedAt, Money, table_info
from kith_common.db.models._common import (
    AccountScoped,
    EagerDefaults,
    Standard,
    check_in,
    false,
    same_account_fk,
    true,
    user_fk,
)

__all__ = [
    "CALL_DIRECTIONS",
    "DEBT_DIRECTIONS",
    "DEBT_STATUSES",
    "GIFT_DIRECTIONS",
    "GIFT_OCCASIONS",
    "GIFT_STATUSES",
    "PET_SPECIES",
    "Address",
    "Call",
    "Contact",
    "ContactField",
    "ContactTag",
    "Debt",
    "DebtPayment",
    "Gift",
    "LifeEvent",
    "Pet",
    "Relationship",
    "Tag",
]

OWNER = "reset-contacts"
INFO = {"info": table_info(OWNER, "delete")}

CALL_DIRECTIONS = ("inbound", "outbound", "missed")
PET_SPECIES = ("dog", "cat", "bird", "fish", "reptile", "rabbit", "hamster", "other")
GIFT_OCCASIONS = ("birthday", "christmas", "anniversary", "wedding", "thank_you", "other")
GIFT_DIRECTIONS = ("given", "received")
GIFT_STATUSES = ("idea", "purchased", "given", "received")
DEBT_DIRECTIONS = ("owed_to_me", "owed_by_me")
DEBT_STATUSES = ("active", "settled", "written_off")


def _contact_index(table: str) -> Index:
    return Index(f"ix_{table}_account_id_contact_id", "account_id", "contact_id")


def _creator_index(table: str, column: str = "creator_id") -> Index:
    """Keeps a user deletion's `SET NULL` off a scan (every FK column ends an index)."""
    return Index(
        f"ix_{table}_account_id_{column}",
        "account_id",
        column,
        postgresql_where=text(f"{column} IS NOT NULL"),
    )


class Contact(Standard, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("account_id", "id"),
        same_account_fk("first_met_through_id", "contacts", on_delete="set_null"),
        same_account_fk("merged_into_id", "contacts", on_delete="set_null"),
        # contacts ↔ photos is a cycle: this FK is added after photos exists.
        ForeignKeyConstraint(
            ["account_id", "avatar_photo_id"],
            ["photos.account_id", "photos.id"],
            ondelete="SET NULL (avatar_photo_id)",
            use_alter=True,
        ),
        CheckConstraint("first_met_through_id <> id", name="first_met_through_not_self"),
        # The contact list's order, both ways: a page forward or back is an index range scan
        # (issue 21: 40 ms → 0.1 ms for a page back at 100,000 contacts).
        Index(
            "ix_contacts_account_id_display_name_id",
            "account_id",
            "display_name",
            "id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_contacts_account_id_last_name_first_name_id",
            "account_id",
            "last_name",
            "first_name",
            "id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_contacts_account_id_deleted_at",
            "account_id",
            "deleted_at",
            postgresql_where=text("deleted_at IS NOT NULL"),
        ),
        Index(
            "ix_contacts_display_name_trgm",
            "display_name",
            postgresql_using="gin",
            postgresql_ops={"display_name": "gin_trgm_ops"},
        ),
        # Exact-name term frequency of live contacts (dedup's evidence, incremental runs).
        Index(
            "ix_contacts_account_id_lower_display_name",
            "account_id",
            text("lower(btrim(display_name))"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_contacts_account_id_first_met_through_id",
            "account_id",
            "first_met_through_id",
            postgresql_where=text("first_met_through_id IS NOT NULL"),
        ),
        Index(
            "ix_contacts_account_id_avatar_photo_id",
            "account_id",
            "avatar_photo_id",
            postgresql_where=text("avatar_photo_id IS NOT NULL"),
        ),
        Index(
            "ix_contacts_account_id_merged_into_id",
            "account_id",
            "merged_into_id",
            postgresql_where=text("merged_into_id IS NOT NULL"),
        ),
        # Not in the spec's list: keeps `DELETE FROM genders` (SET NULL) off a scan.
        Index(
            "ix_contacts_gender_id",
            "gender_id",
            postgresql_where=text("gender_id IS NOT NULL"),
        ),
        INFO,
    )

    first_name: Mapped[str]
    middle_name: Mapped[str | None]
    last_name: Mapped[str | None]
    nickname: Mapped[str | None]
    # Recomputed by one kith_common function on every write that touches a name part.
    display_name: Mapped[str]
    # Genders may be global: a single-column FK.
    gender_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("genders.id", ondelete="SET NULL")
    )
    birthdate: Mapped[dt.date | None]
    birthdate_year_unknown: Mapped[bool] = mapped_column(server_default=false())
    description: Mapped[str | None]
    company: Mapped[str | None]
    job_title: Mapped[str | None]
    favorite: Mapped[bool] = mapped_column(server_default=false())
    is_archived: Mapped[bool] = mapped_column(server_default=false())
    # A Monica partial contact kept as a relationship target.
    is_partial: Mapped[bool] = mapped_column(server_default=false())
    deceased: Mapped[bool] = mapped_column(server_default=false())
    deceased_on: Mapped[dt.date | None]
    avatar_photo_id: Mapped[int | None] = mapped_column(BigInteger)
    first_met_at: Mapped[dt.date | None]
    first_met_year_unknown: Mapped[bool] = mapped_column(server_default=false())
    first_met_where: Mapped[str | None]
    first_met_additional_info: Mapped[str | None]
    first_met_through_id: Mapped[int | None] = mapped_column(BigInteger)
    last_talked_to_at: Mapped[dt.datetime | None]
    # Soft delete (NULL = active); the trash purge hard-deletes after 30 days.
    deleted_at: Mapped[dt.datetime | None]
    # Set on a merge's loser, which is also soft-deleted (dedup.md §5).
    merged_into_id: Mapped[int | None] = mapped_column(BigInteger)


class ContactField(Standard, Base):
    __tablename__ = "contact_fields"
    __table_args__ = (
        same_account_fk("contact_id", "contacts"),
        CheckConstraint("btrim(value) <> ''", name="value_not_blank"),
        _contact_index("contact_fields"),
        Index("ix_contact_fields_contact_field_type_id", "contact_field_type_id"),
        Index(
            "ix_contact_fields_account_id_match_key",
            "account_id",
            "match_key",
            postgresql_where=text("match_key IS NOT NULL"),
        ),
        INFO,
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    contact_field_type_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("contact_field_types.id", ondelete="NO ACTION")
    )
    # Written with match_key by kith_common.contact_fields.prepare on every write path.
    value: Mapped[str]
    label: Mapped[str | None]
    # The email or phone key; NULL for other kinds and invalid numbers (dedup.md §2).
    match_key: Mapped[str | None]


class Address(Standard, Base):
    __tablename__ = "addresses"
    __table_args__ = (
        same_account_fk("contact_id", "contacts"),
        _contact_index("addresses"),
        Index(
            "ix_addresses_account_id_match_key",
            "account_id",
            "match_key",
            postgresql_where=text("match_key IS NOT NULL"),
        ),
        INFO,
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    label: Mapped[str | None]
    line1: Mapped[str | None]
    line2: Mapped[str | None]
    city: Mapped[str | None]
    province: Mapped[str | None]
    postal_code: Mapped[str | None]
    # ISO 3166-1 alpha-2
    country: Mapped[str | None]
    latitude: Mapped[float | None] = mapped_column(Double)
    longitude: Mapped[float | None] = mapped_column(Double)
    # line1 + postal code, NULL if either is empty (dedup.md §2).
    match_key: Mapped[str | None]


class Tag(Standard, Base):
    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("account_id", "id"),
        UniqueConstraint("account_id", "name"),
        CheckConstraint("color ~ '^#[0-9A-Fa-f]{6}$'", name="color"),
        INFO,
    )

    name: Mapped[str]
    color: Mapped[str | None]


class ContactTag(EagerDefaults, AccountScoped, Base):
    __tablename__ = "contact_tags"
    __table_args__ = (
        PrimaryKeyConstraint("contact_id", "tag_id"),
        same_account_fk("contact_id", "contacts"),
        same_account_fk("tag_id", "tags"),
        Index("ix_contact_tags_account_id_tag_id", "account_id", "tag_id"),
        INFO,
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    tag_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[CreatedAt]


class Relationship(Standard, Base):
    """(contact A, related B, type T): "B is A's T.name"; one row per pair and type."""

    __tablename__ = "relationships"
    __table_args__ = (
        same_account_fk("contact_id", "contacts"),
        same_account_fk("related_contact_id", "contacts"),
        CheckConstraint("contact_id <> related_contact_id", name="not_self"),
        UniqueConstraint("account_id", "contact_id", "related_contact_id", "relationship_type_id"),
        Index("ix_relationships_account_id_related_contact_id", "account_id", "related_contact_id"),
        # Not in the spec's list: the NO ACTION check of a type delete uses it.
        Index("ix_relationships_relationship_type_id", "relationship_type_id"),
        INFO,
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    related_contact_id: Mapped[int] = mapped_column(BigInteger)
    relationship_type_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("relationship_types.id", ondelete="NO ACTION")
    )


class LifeEvent(Standard, Base):
    __tablename__ = "life_events"
    __table_args__ = (
        same_account_fk("contact_id", "contacts"),
        user_fk("creator_id"),
        _contact_index("life_events"),
        _creator_index("life_events"),
        # Not in the spec's list: the NO ACTION check of a type delete uses it.
        Index("ix_life_events_life_event_type_id", "life_event_type_id"),
        INFO,
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    life_event_type_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("life_event_types.id", ondelete="NO ACTION")
    )
    occurred_on: Mapped[dt.date]
    note: Mapped[str | None]
    is_private: Mapped[bool] = mapped_column(server_default=false())
    creator_id: Mapped[int | None] = mapped_column(BigInteger)


class Call(Standard, Base):
    __tablename__ = "calls"
    __table_args__ = (
        same_account_fk("contact_id", "contacts"),
        user_fk("creator_id"),
        CheckConstraint("duration_minutes >= 0", name="duration_minutes"),
        check_in("direction", CALL_DIRECTIONS),
        _contact_index("calls"),
        _creator_index("calls"),
        INFO,
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[dt.datetime]
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    direction: Mapped[str | None]
    notes: Mapped[str | None]
    is_private: Mapped[bool] = mapped_column(server_default=false())
    creator_id: Mapped[int | None] = mapped_column(BigInteger)


class Pet(Standard, Base):
    __tablename__ = "pets"
    __table_args__ = (
        same_account_fk("contact_id", "contacts"),
        check_in("species", PET_SPECIES),
        _contact_index("pets"),
        INFO,
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str]
    species: Mapped[str] = mapped_column(server_default=text("'other'"))
    breed: Mapped[str | None]
    notes: Mapped[str | None]
    is_private: Mapped[bool] = mapped_column(server_default=true())


class Gift(Standard, Base):
    __tablename__ = "gifts"
    __table_args__ = (
        same_account_fk("contact_id", "contacts"),
        user_fk("creator_id"),
        check_in("occasion", GIFT_OCCASIONS),
        check_in("direction", GIFT_DIRECTIONS),
        check_in("status", GIFT_STATUSES),
        _contact_index("gifts"),
        _creator_index("gifts"),
        INFO,
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str]
    description: Mapped[str | None]
    occasion: Mapped[str | None]
    occurred_on: Mapped[dt.date | None]
    amount: Mapped[Money | None]
    currency: Mapped[str | None] = mapped_column(CHAR(3))
    direction: Mapped[str]
    status: Mapped[str] = mapped_column(server_default=text("'idea'"))
    url: Mapped[str | None]
    is_private: Mapped[bool] = mapped_column(server_default=true())
    creator_id: Mapped[int | None] = mapped_column(BigInteger)


class Debt(Standard, Base):
    __tablename__ = "debts"
    __table_args__ = (
        UniqueConstraint("account_id", "id"),
        same_account_fk("contact_id", "contacts"),
        user_fk("creator_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        check_in("direction", DEBT_DIRECTIONS),
        check_in("status", DEBT_STATUSES),
        _contact_index("debts"),
        _creator_index("debts"),
        INFO,
    )

    contact_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str]
    amount: Mapped[Money]
    currency: Mapped[str | None] = mapped_column(CHAR(3))
    direction: Mapped[str]
    status: Mapped[str] = mapped_column(server_default=text("'active'"))
    due_on: Mapped[dt.date | None]
    settled_at: Mapped[dt.datetime | None]
    notes: Mapped[str | None]
    is_private: Mapped[bool] = mapped_column(server_default=true())
    creator_id: Mapped[int | None] = mapped_column(BigInteger)


class DebtPayment(Standard, Base):
    __tablename__ = "debt_payments"
    __table_args__ = (
        same_account_fk("debt_id", "debts"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_debt_payments_account_id_debt_id", "account_id", "debt_id"),
        INFO,
    )

    debt_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[Money]
    paid_on: Mapped[dt.date]
    notes: Mapped[str | None]
