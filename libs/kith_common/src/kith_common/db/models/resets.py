"""Account resets (data-model.md §3.7): the reset's own progress, never deleted by a reset.

`UNIQUE (account_id) WHERE status = 'running'` is the only guard against two resets of an
account (the 409 of reset.md §2).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, table_info
from kith_common.db.models._common import (
    AccountScoped,
    EagerDefaults,
    Standard,
    Timestamps,
    check_in,
    same_account_fk,
    user_fk,
)

__all__ = [
    "DOMAIN_STAGES",
    "DOMAIN_STATUSES",
    "RESET_STAGES",
    "RESET_STATUSES",
    "AccountReset",
    "AccountResetDomain",
]

OWNER = "reset"
RESET_STATUSES = ("running", "completed", "failed")
RESET_STAGES = ("accepted", "stopping_imports", "storage", "domains", "contacts", "done")
DOMAIN_STAGES = ("storage", "domains", "contacts")
DOMAIN_STATUSES = ("pending", "running", "done", "failed")

_EMPTY_JSON = text("'{}'::jsonb")


class AccountReset(Standard, Base):
    __tablename__ = "account_resets"
    __table_args__ = (
        UniqueConstraint("account_id", "id"),
        user_fk("requested_by_id"),
        check_in("status", RESET_STATUSES),
        check_in("stage", RESET_STAGES),
        Index(
            "uq_account_resets_account_id_running",
            "account_id",
            unique=True,
            postgresql_where=text("status = 'running'"),
        ),
        Index(
            "ix_account_resets_account_id_requested_by_id",
            "account_id",
            "requested_by_id",
            postgresql_where=text("requested_by_id IS NOT NULL"),
        ),
        {"info": table_info(OWNER, "preserve")},
    )

    status: Mapped[str]
    stage: Mapped[str]
    attempt: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # The fence value of the current attempt.
    generation: Mapped[int] = mapped_column(BigInteger)
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger)
    requested_by_name: Mapped[str | None]
    correlation_id: Mapped[uuid.UUID | None]
    # {domain, message, at} or NULL
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    totals: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=_EMPTY_JSON)
    requested_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


Index(
    "ix_account_resets_account_id_requested_at",
    AccountReset.account_id,
    AccountReset.requested_at.desc(),
)


class AccountResetDomain(EagerDefaults, AccountScoped, Timestamps, Base):
    __tablename__ = "account_reset_domains"
    __table_args__ = (
        PrimaryKeyConstraint("reset_id", "domain"),
        same_account_fk("reset_id", "account_resets"),
        check_in("stage", DOMAIN_STAGES),
        check_in("status", DOMAIN_STATUSES),
        Index("ix_account_reset_domains_account_id_reset_id", "account_id", "reset_id"),
        {"info": table_info(OWNER, "preserve")},
    )

    reset_id: Mapped[int] = mapped_column(BigInteger)
    domain: Mapped[str]
    stage: Mapped[str]
    status: Mapped[str]
    # table or file class → rows, accumulated over attempts
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=_EMPTY_JSON)
    deliveries: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None]
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    heartbeat_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
