"""Duplicate candidates and merges (dedup.md §4, §5.4)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from kith_common.events.payloads.contacts import MergeField
from kith_gateway.schemas.common import Strict

CandidateStatus = Literal["pending", "dismissed", "merged", "obsolete"]


class PairContact(BaseModel):
    id: int
    display_name: str
    first_name: str
    last_name: str | None
    company: str | None


class CandidateOut(BaseModel):
    id: int
    score: Decimal = Field(description="0–1, two decimals.")
    reasons: list[str]
    status: CandidateStatus
    detected_at: dt.datetime
    resolved_at: dt.datetime | None
    contact: PairContact
    duplicate_contact: PairContact


class CandidateCounts(BaseModel):
    pending: int
    dismissed: int
    merged: int
    obsolete: int


class MergeIn(Strict):
    survivor_id: int = Field(ge=1, le=2**62)
    loser_id: int = Field(ge=1, le=2**62)
    field_choices: dict[MergeField, Literal["survivor", "loser"]] = Field(default_factory=dict)
    candidate_id: int | None = Field(default=None, ge=1, le=2**62)


class MergeReportOut(BaseModel):
    """The merge report (dedup.md §5.4); tel values carry `formatted` where shown."""

    survivor: dict[str, Any]
    loser: dict[str, Any]
    fields: list[dict[str, Any]]
    moved: dict[str, int]
    dropped: dict[str, list[int]]
    candidates: dict[str, list[int]]


class MergeAccepted(BaseModel):
    id: uuid.UUID = Field(description="The merge id (the command's envelope id).")
    status_url: str


class MergeOut(BaseModel):
    id: uuid.UUID
    status: Literal["pending", "done", "failed"]
    survivor_id: int | None
    loser_id: int | None
    source: str | None
    error_code: str | None
    report: dict[str, Any] | None
    created_at: dt.datetime | None


class ScanAccepted(BaseModel):
    id: uuid.UUID = Field(description="The scan id (`scan_id` of `dedup.scan.completed`).")
    status_url: str
