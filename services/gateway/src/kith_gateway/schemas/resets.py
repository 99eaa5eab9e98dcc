"""Account reset: the request, the 202 answer and the progress view (reset.md §2)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel


class ResetAccepted(BaseModel):
    id: int
    attempt: int
    status: Literal["running"]
    status_url: str


class RequestedBy(BaseModel):
    id: int | None
    name: str | None


class ResetError(BaseModel):
    domain: str | None
    message: str | None


class ResetDomainOut(BaseModel):
    domain: str
    stage: str
    status: str
    counts: dict[str, int]
    deliveries: int
    last_error: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ResetOut(BaseModel):
    id: int
    status: Literal["running", "completed", "failed"]
    stage: str
    attempt: int
    generation: int
    requested_by: RequestedBy
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    stalled: bool
    error: ResetError | None
    totals: dict[str, Any]
    domains: list[ResetDomainOut]
    status_url: str
