"""Every table says who owns it and what a reset does with it (data-model.md §1)."""

from __future__ import annotations

import pytest
from sqlalchemy import PrimaryKeyConstraint, Table, UniqueConstraint

import kith_common.db.models  # noqa: F401  # registers every table
from kith_common.db.base import Base

# reset.md §3: the consumers that delete rows.
RESET_DELETERS = {
    "reset-imports",
    "reset-dedup",
    "reset-media",
    "reset-notes",
    "reset-conversations",
    "reset-reminders",
    "reset-tasks",
    "reset-journal",
    "reset-activities",
    "reset-audit",
    "reset-contacts",
}
PRESERVED = {
    "accounts",
    "users",
    "api_tokens",
    "operator_tokens",
    "account_invitations",
    "genders",
    "contact_field_types",
    "relationship_types",
    "life_event_types",
    "reminder_rules",
    "account_resets",
    "account_reset_domains",
    "outbox",
    "inbox",
    "rate_limits",
    "console_sessions",
    "service_instances",
}
TABLES = sorted(Base.metadata.tables.values(), key=lambda table: table.name)


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_table_names_owner_and_reset_action(table: Table) -> None:
    assert isinstance(table.info.get("owner"), str), f"{table.name} has no owner"
    assert table.info["owner"]
    assert table.info.get("reset") in {"delete", "preserve"}, f"{table.name}: bad reset action"


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_deleted_tables_belong_to_a_reset_consumer(table: Table) -> None:
    if table.info["reset"] == "delete":
        assert table.info["owner"] in RESET_DELETERS
        assert table.name not in PRESERVED
    else:
        assert table.name in PRESERVED, f"{table.name} is preserved but reset.md §1 deletes it"


def _account_data(table: Table) -> bool:
    column = table.c.get("account_id")
    return column is not None and any(
        fk.column.table.name == "accounts" for fk in column.foreign_keys
    )


@pytest.mark.parametrize(
    "table", [table for table in TABLES if _account_data(table)], ids=lambda table: table.name
)
def test_account_data_has_an_index_led_by_account_id(table: Table) -> None:
    """The reset's batches and every scoped query need one (data-model.md §1)."""
    keys: list[list[str]] = [[column.name for column in index.columns] for index in table.indexes]
    keys += [
        [column.name for column in constraint.columns]
        for constraint in table.constraints
        if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint)
    ]
    assert any(key[:1] == ["account_id"] for key in keys), table.name


def test_every_table_is_known() -> None:
    assert len(TABLES) == 48
