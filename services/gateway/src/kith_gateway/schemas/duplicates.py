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
CandidateSort = Literal["confidence", "score"]
EvidenceField = Literal["name", "email", "phone", "address", "birthday", "company"]


class PhoneOut(BaseModel):
    value: str
    formatted: str | None = Field(description="In the account's phone_format.")


class AddressLine(BaseModel):
    line1: str | None
    city: str | None


class SideCounts(BaseModel):
    """What moves with one side of a pair: its notes, calls and photos."""

    notes: int
    calls: int
    photos: int


class ContactOrigin(BaseModel):
    kind: Literal["import", "manual"] = Field(
        description="`import`: written by an import (the first one); `manual`: created by hand."
    )
    import_id: int | None
    source: str | None = Field(description="The import's source (monica, vcard).")
    at: dt.datetime | None = Field(description="When the contact was created.")


class PairContact(BaseModel):
    """One side of a pair, with the fields a person decides on."""

    id: int
    display_name: str
    first_name: str
    last_name: str | None
    company: str | None
    job_title: str | None = None
    birthdate: dt.date | None = None
    emails: list[str] = Field(default_factory=list)
    phones: list[PhoneOut] = Field(default_factory=list)
    address: AddressLine | None = Field(default=None, description="The first address.")
    counts: SideCounts | None = None
    origin: ContactOrigin | None = None


class EvidenceOut(BaseModel):
    outcome: Literal["agree", "disagree", "missing"]
    level: str = Field(
        description="name: exact, close, similar, different; others: agree, disagree; or missing."
    )
    weight: float = Field(description="log2(m/u): positive for the pair, negative against.")


class CandidateOut(BaseModel):
    id: int
    score: Decimal = Field(description="0–1, two decimals (the seed's score).")
    confidence: float = Field(
        description="0–1: how sure the pair is one person, from the evidence (default order)."
    )
    evidence: dict[EvidenceField, EvidenceOut] | None = Field(
        description="Per field: agree, disagree or missing, with its weight; null until judged."
    )
    reasons: list[str]
    status: CandidateStatus
    detected_at: dt.datetime
    resolved_at: dt.datetime | None
    contact: PairContact
    duplicate_contact: PairContact


class ConfidenceBands(BaseModel):
    high: int = Field(description="Pending pairs with confidence ≥ 0.9.")
    medium: int = Field(description="0.5 ≤ confidence < 0.9.")
    low: int = Field(description="confidence < 0.5.")


class CandidateCounts(BaseModel):
    pending: int
    dismissed: int
    merged: int
    obsolete: int
    by_confidence: ConfidenceBands = Field(description="Pending pairs per confidence band.")


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
