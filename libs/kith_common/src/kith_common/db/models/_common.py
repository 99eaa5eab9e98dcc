"""Shared column mixins and constraint builders for the models (data-model.md §1).

- `Standard`: `id` (identity), `account_id` (→ accounts ON DELETE CASCADE), `created_at`,
  `updated_at`: the standard columns of most tables.
- `same_account_fk`: the composite `(account_id, col) → parent(account_id, id)` that keeps a
  row from pointing at another account's row; nullable ones use `SET NULL (col)` so
  `account_id` is never nulled.
- `user_fk`: a nullable reference to a user of the same account, `SET NULL (col)`.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, ForeignKeyConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import CreatedAt, IdentityId, UpdatedAt

__all__ = [
    "AccountScoped",
    "EagerDefaults",
    "Standard",
    "Timestamps",
    "check_in",
    "false",
    "same_account_fk",
    "storage_key_check",
    "true",
    "user_fk",
]

OnDelete = Literal["cascade", "set_null"]


def false() -> Any:
    """Server default `false` for boolean columns."""
    return text("false")


def true() -> Any:
    """Server default `true` for boolean columns."""
    return text("true")


class EagerDefaults:
    """Fetch server-generated values (defaults, `updated_at` on UPDATE) with RETURNING.

    Sessions are async and `expire_on_commit=False`: an expired server default would need a
    lazy load, which async sessions refuse.
    """

    __mapper_args__: dict[str, Any] = {"eager_defaults": True}  # noqa: RUF012


class Timestamps:
    """`created_at` and `updated_at`, both `timestamptz NOT NULL DEFAULT now()`."""

    created_at: Mapped[CreatedAt] = mapped_column(sort_order=90)
    updated_at: Mapped[UpdatedAt] = mapped_column(sort_order=91)


class AccountScoped:
    """`account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE`."""

    account_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        sort_order=-90,
    )


class Standard(EagerDefaults, AccountScoped, Timestamps):
    """The standard columns: id, account_id, created_at, updated_at."""

    id: Mapped[IdentityId]


def same_account_fk(
    column: str, parent: str, *, on_delete: OnDelete = "cascade"
) -> ForeignKeyConstraint:
    """`(account_id, column) → parent(account_id, id)`; the parent has UNIQUE (account_id, id).

    `set_null` renders `ON DELETE SET NULL (column)` (PostgreSQL 15+), nulling only the
    reference, never `account_id`.
    """
    ondelete = "CASCADE" if on_delete == "cascade" else f"SET NULL ({column})"
    return ForeignKeyConstraint(
        ["account_id", column],
        [f"{parent}.account_id", f"{parent}.id"],
        ondelete=ondelete,
    )


def user_fk(column: str) -> ForeignKeyConstraint:
    """A nullable same-account reference to a user: deleting the user keeps the row."""
    return same_account_fk(column, "users", on_delete="set_null")


def check_in(column: str, values: tuple[str, ...], *, name: str | None = None) -> CheckConstraint:
    """A closed set as `text` + CHECK (data-model.md §1: no enum types)."""
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name or column)


def storage_key_check(column: str) -> CheckConstraint:
    """data-model.md §4: a storage key lives under `a/<account_id>/` (the slash matters)."""
    return CheckConstraint(
        f"starts_with({column}, 'a/' || account_id::text || '/')",
        name=f"{column}_prefix",
    )
