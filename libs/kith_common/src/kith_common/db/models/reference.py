"""Reference data (data-model.md §3.2): global rows (`account_id` NULL) and the account's own.

Preserved by a reset: import-created types belong to the account and survive, so a
re-import reuses them. Seeded rows carry a stable `key`; code looks them up by key, never by
display name. Rows referencing a type use a single-column FK `ON DELETE NO ACTION`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    Integer,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from kith_common.db.base import Base, IdentityId, table_info
from kith_common.db.models._common import EagerDefaults, Timestamps, check_in

__all__ = [
    "CONTACT_FIELD_KINDS",
    "LIFE_EVENT_CATEGORIES",
    "ContactFieldType",
    "Gender",
    "LifeEventType",
    "RelationshipType",
]

OWNER = "reference"
CONTACT_FIELD_KINDS = ("email", "phone", "impp", "url", "social", "other")
LIFE_EVENT_CATEGORIES = ("career", "education", "family", "health", "home", "travel", "other")

# data-model.md §3.2: kind follows the protocol; phone normalisation and dedup select by kind.
CONTACT_FIELD_KIND_SQL = (
    "CASE"
    " WHEN protocol IS NULL THEN 'other'"
    " WHEN protocol = 'mailto:' THEN 'email'"
    " WHEN protocol = 'tel:' THEN 'phone'"
    " WHEN protocol = 'impp:' THEN 'impp'"
    " WHEN protocol IN ('https://', 'http://') THEN 'url'"
    " ELSE 'social'"
    " END"
)


class ReferenceColumns(EagerDefaults, Timestamps):
    """Common columns: nullable `account_id` (NULL = global), `key`, `name`, `position`."""

    id: Mapped[IdentityId]
    account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), sort_order=-90
    )
    key: Mapped[str | None] = mapped_column(sort_order=-80)
    name: Mapped[str] = mapped_column(sort_order=-79)
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"), sort_order=-78)

    @staticmethod
    def reference_constraints(table: str) -> tuple[UniqueConstraint | Index, ...]:
        return (
            UniqueConstraint("account_id", "name", postgresql_nulls_not_distinct=True),
            Index(
                f"uq_{table}_key",
                "key",
                unique=True,
                postgresql_where=text("key IS NOT NULL"),
            ),
        )

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[object, ...]:
        table = cls.__dict__["__tablename__"]
        extra: tuple[object, ...] = cls.__dict__.get("__extra_table_args__", ())
        return (
            *cls.reference_constraints(table),
            *extra,
            {"info": table_info(OWNER, "preserve")},
        )


class Gender(ReferenceColumns, Base):
    __tablename__ = "genders"


class ContactFieldType(ReferenceColumns, Base):
    __tablename__ = "contact_field_types"
    __extra_table_args__ = (
        CheckConstraint(
            "protocol IS NULL OR protocol IN ('mailto:', 'tel:', 'impp:')"
            " OR protocol ~ '^https?://'",
            name="protocol",
        ),
    )

    protocol: Mapped[str | None]
    kind: Mapped[str] = mapped_column(Computed(CONTACT_FIELD_KIND_SQL, persisted=True))
    vcard_label: Mapped[str | None]
    icon: Mapped[str | None]


class RelationshipType(ReferenceColumns, Base):
    """(contact A, related B, type T) reads "B is A's T.name"; from B, "A is B's reverse_name"."""

    __tablename__ = "relationship_types"

    reverse_name: Mapped[str]


class LifeEventType(ReferenceColumns, Base):
    __tablename__ = "life_event_types"
    __extra_table_args__ = (check_in("category", LIFE_EVENT_CATEGORIES),)

    category: Mapped[str]
    icon: Mapped[str | None]
