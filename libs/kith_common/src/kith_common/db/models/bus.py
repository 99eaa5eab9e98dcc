"""Bus and coordination tables (data-model.md §3.8): not account data, never reset.

- `outbox`: written in the producer's transaction; the relay claims rows with
  `FOR UPDATE SKIP LOCKED` and publishes with `Nats-Msg-Id = id`.
- `inbox`: `(consumer, message_id)` written in the handler's transaction, so a redelivery
  has no effect.
- `rate_limits`: the shared Monica limiter (GCRA) every importer replica updates.

`account_id` here has no FK: these rows are not account data and must not block or follow
an account's deletion.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, func, text
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, CreatedAt, UpdatedAt, table_info
from kith_common.db.models._common import EagerDefaults

__all__ = ["Inbox", "Outbox", "RateLimit"]

OWNER = "bus"


class Outbox(EagerDefaults, Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_prefix_available_at_unsent",
            "stream_prefix",
            "available_at",
            postgresql_where=text("sent_at IS NULL"),
        ),
        {"info": table_info(OWNER, "preserve")},
    )

    # = envelope id = Nats-Msg-Id
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    subject: Mapped[str]
    # The producer's stream prefix ('' in production); a relay claims only its own rows.
    stream_prefix: Mapped[str] = mapped_column(server_default=text("''"))
    envelope: Mapped[dict[str, Any]]
    account_id: Mapped[int | None] = mapped_column(BigInteger)
    generation: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[CreatedAt]
    # The order rows were written in. `created_at` is the transaction's start, the same for
    # every event one transaction writes, so it cannot order a progress event before the
    # completed event committed with it; the relay publishes in `seq` order.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True))
    available_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None]
    claimed_by: Mapped[str | None]
    claimed_until: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]


class Inbox(EagerDefaults, Base):
    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_processed_at", "processed_at"),
        {"info": table_info(OWNER, "preserve")},
    )

    consumer: Mapped[str] = mapped_column(primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(BigInteger)
    processed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class RateLimit(EagerDefaults, Base):
    __tablename__ = "rate_limits"
    __table_args__ = ({"info": table_info(OWNER, "preserve")},)

    # monica:<origin>:<sha256 of the API key> (importer.md §5)
    key: Mapped[str] = mapped_column(primary_key=True)
    # theoretical arrival time
    tat: Mapped[dt.datetime]
    blocked_until: Mapped[dt.datetime | None]
    updated_at: Mapped[UpdatedAt]
