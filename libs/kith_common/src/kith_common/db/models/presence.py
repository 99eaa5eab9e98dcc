"""Which service processes are alive: one row per running instance, refreshed by a heartbeat.

Not account data, never reset. Every `Runtime` inserts its row when it starts, bumps
`last_seen_at` every few seconds and sets `stopped_at` when it stops cleanly; a crashed process
simply stops beating. The gateway reads the table for the operator page and the console's
banner. Rows of instances gone for a day are pruned by the heartbeats themselves (the newest
row of each service stays, so a long-dead service is still shown as not running).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import DateTime, Double, Index, Integer, func, text
from sqlalchemy.orm import Mapped, mapped_column

from kith_common.db.base import Base, table_info
from kith_common.db.models._common import EagerDefaults

__all__ = ["ServiceInstance"]

OWNER = "presence"


class ServiceInstance(EagerDefaults, Base):
    __tablename__ = "service_instances"
    __table_args__ = (
        Index(
            "ix_service_instances_stream_prefix_service_started_at",
            "stream_prefix",
            "service",
            "started_at",
        ),
        {"info": table_info(OWNER, "preserve")},
    )

    # A new id per process start: a restarted service is a new row.
    instance_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The deployment's stream prefix ('' in production), as in `outbox`: tests and side-by-side
    # deployments sharing a database see only their own services.
    stream_prefix: Mapped[str] = mapped_column(server_default=text("''"))
    service: Mapped[str]
    host: Mapped[str]
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_seen_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    stopped_at: Mapped[dt.datetime | None]
    # How often this instance beats: a reader calls it gone after three missed beats, so the
    # reader needs no setting of its own.
    beat_seconds: Mapped[float] = mapped_column(Double)
