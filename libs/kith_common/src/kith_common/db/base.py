"""The declarative base every model shares: naming convention, column types, table info.

Each table's `info` names its owning domain and what a reset does with it
(`{"owner": ..., "reset": "delete" | "preserve"}`, data-model.md §1); a test walks
`Base.metadata` and fails on a table without it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from sqlalchemy import BigInteger, DateTime, Identity, MetaData, Numeric, Text, func
from sqlalchemy.dialects.postgresql import CITEXT, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ResetAction = Literal["delete", "preserve"]

# Reusable column types (SQLAlchemy "Annotated" pattern).
BigId = Annotated[int, mapped_column(BigInteger, primary_key=True, autoincrement=True)]
Str = Annotated[str, mapped_column(Text)]
Uuid = Annotated[uuid.UUID, mapped_column(UUID(as_uuid=True))]
Json = Annotated[dict[str, Any], mapped_column(JSONB)]
CreatedAt = Annotated[
    dt.datetime,
    mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now()),
]
UpdatedAt = Annotated[
    dt.datetime,
    mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    ),
]
# data-model.md §1: row ids are `bigint GENERATED ALWAYS AS IDENTITY`.
IdentityId = Annotated[
    int, mapped_column(BigInteger, Identity(always=True), primary_key=True, sort_order=-100)
]
# A bigint that is not a key of this table (account_id, other ids, generations, sizes).
BigInt = Annotated[int, mapped_column(BigInteger)]
# Case-insensitive text (emails).
CiText = Annotated[str, mapped_column(CITEXT)]
# Money: numeric(12,2); the currency is a separate char(3) (data-model.md §1).
Money = Annotated[Decimal, mapped_column(Numeric(12, 2))]


class Base(DeclarativeBase):
    """Root of every Kith model; one MetaData with a stable naming convention for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012  # SQLAlchemy reads this class attribute
        dt.datetime: DateTime(timezone=True),
        str: Text(),
        dict[str, Any]: JSONB(),
        uuid.UUID: UUID(as_uuid=True),
    }


def table_info(owner: str, reset: ResetAction) -> dict[str, str]:
    """The `info` every table carries: who owns it and whether a reset deletes it."""
    return {"owner": owner, "reset": reset}
