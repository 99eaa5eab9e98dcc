"""Operator views: bus state, dead letters, replays, phone backfills."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from kith_gateway.schemas.common import Strict


class ConsumerOut(BaseModel):
    name: str
    pending: int = Field(description="Messages not yet delivered.")
    ack_pending: int
    redelivered: int
    waiting: int
    last_active: dt.datetime | None


class StreamOut(BaseModel):
    name: str
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    consumers: list[ConsumerOut]


class BusOut(BaseModel):
    streams: list[StreamOut]


class DeadLetterOut(BaseModel):
    seq: int
    subject: str = Field(description="The original subject.")
    consumer: str
    error_type: str
    error_message: str
    deliveries: int
    failed_at: dt.datetime
    account_id: int | None
    envelope: dict[str, Any]


class ReplayAccepted(BaseModel):
    id: str = Field(description="The replayed message's new Nats-Msg-Id.")
    seq: int
    subject: str


class RenormalizeIn(Strict):
    account_id: int | None = Field(
        default=None, ge=1, le=2**62, description="Default: every account."
    )


class RenormalizeAccepted(BaseModel):
    accounts: int = Field(description="Accounts a backfill command was queued for.")
