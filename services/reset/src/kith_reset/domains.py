"""The cleanup registry (reset.md §3): every domain, its stage, subject and tables.

Each entry names the tables its consumer deletes, leaf first, and an optional row filter;
each table has exactly one owner, so domains delete disjoint sets and their counts are exact.
`kith_common.resets.DOMAINS` lists the same names and stages (admission needs them without
importing a service); a test keeps the two in step, and another fails when a table marked
`reset: delete` is named by no domain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, MetaData, Table

from kith_common.db.base import Base
from kith_common.db.models import AuditLog
from kith_common.events.subjects import (
    ACCOUNT_RESET_CONTACTS_STARTED,
    ACCOUNT_RESET_STARTED,
    ACCOUNT_RESET_STORAGE_STARTED,
)

__all__ = [
    "DOMAINS",
    "STAGE_DOMAINS",
    "Domain",
    "TableStep",
    "domain",
    "durable_of",
    "uncovered_tables",
]

STAGE_SUBJECTS = {
    "storage": ACCOUNT_RESET_STORAGE_STARTED,
    "domains": ACCOUNT_RESET_STARTED,
    "contacts": ACCOUNT_RESET_CONTACTS_STARTED,
}


@dataclass(frozen=True, slots=True)
class TableStep:
    """One table a domain deletes, with the filter that spares some of its rows."""

    name: str
    where: Callable[[], ColumnElement[bool]] | None = None

    @property
    def table(self) -> Table:
        return Base.metadata.tables[self.name]


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    stage: str
    tables: tuple[TableStep, ...]

    @property
    def durable(self) -> str:
        return durable_of(self.name)

    @property
    def subject(self) -> str:
        return STAGE_SUBJECTS[self.stage]


def durable_of(name: str) -> str:
    """`reset-<domain>` (CONVENTIONS §5)."""
    return f"reset-{name}"


def _keep_reset_audit() -> ColumnElement[bool]:
    # reset.md §1: the `account_data_reset` entries outlive every reset.
    return AuditLog.event != "account_data_reset"


def _steps(*names: str) -> tuple[TableStep, ...]:
    return tuple(TableStep(name) for name in names)


DOMAINS: tuple[Domain, ...] = (
    # Files: the storage stage reads keys from rows, so it has no tables of its own.
    Domain("storage", "storage", ()),
    Domain(
        "imports",
        "domains",
        _steps("import_staging", "import_records", "import_connection_checks", "imports"),
    ),
    Domain(
        "dedup",
        "domains",
        _steps("duplicate_candidates", "contact_merges", "dedup_key_state", "dedup_dirty_contacts"),
    ),
    Domain("media", "domains", _steps("photos", "documents")),
    Domain("notes", "domains", _steps("notes")),
    Domain("conversations", "domains", _steps("messages", "conversations")),
    Domain("reminders", "domains", _steps("reminders")),
    Domain("tasks", "domains", _steps("tasks")),
    Domain("journal", "domains", _steps("journal_entries")),
    Domain("activities", "domains", _steps("activity_contacts", "activities")),
    Domain("audit", "domains", (TableStep("audit_logs", _keep_reset_audit),)),
    Domain(
        "contacts",
        "contacts",
        _steps(
            "relationships",
            "contact_tags",
            "contact_fields",
            "addresses",
            "life_events",
            "calls",
            "pets",
            "gifts",
            "debt_payments",
            "debts",
            "contacts",
            "tags",
        ),
    ),
)
STAGE_DOMAINS: dict[str, tuple[str, ...]] = {
    stage: tuple(d.name for d in DOMAINS if d.stage == stage) for stage in STAGE_SUBJECTS
}
_BY_NAME = {d.name: d for d in DOMAINS}


def domain(name: str) -> Domain:
    return _BY_NAME[name]


def uncovered_tables(metadata: MetaData) -> list[str]:
    """Tables a reset would miss: marked `delete` but in no domain, or with no reset info.

    Also flags a table that has `account_id` and is marked neither way, so a new table must
    choose (reset.md §10: the coverage test).
    """
    named = {step.name for d in DOMAINS for step in d.tables}
    missed = []
    for name, table in metadata.tables.items():
        action = table.info.get("reset")
        if (action == "delete" and name not in named) or action not in ("delete", "preserve"):
            missed.append(name)
    return sorted(missed)
