"""Payloads of duplicate detection: the scan command, its result, and a user's dismissal.

dedup.md §3.5 (modes, triggers, the scan-completed counts) and §4 (dismiss).
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from kith_common.events.envelope import Payload

__all__ = [
    "CandidateDismissed",
    "DedupScanCompleted",
    "DedupSignal",
    "ScanDuplicates",
    "ScanMode",
    "ScanTrigger",
]

ScanMode = Literal["full", "incremental"]
ScanTrigger = Literal["api", "schedule", "renormalize", "import", "contact_change"]
DedupSignal = Literal["name_match", "email_match", "phone_match", "address_match"]


class ScanDuplicates(Payload):
    """Run a full duplicate scan of one account."""

    account_id: int
    trigger: Literal["api", "schedule", "renormalize"] = Field(
        description="`api`: POST /v1/duplicates/scan; `schedule`: the weekly CronJob "
        "(`kith admin dedup-scan --all-accounts`); `renormalize`: a phone backfill changed keys."
    )
    requested_by: int | None = Field(default=None, description="The user who asked (`api` only).")


class DedupScanCompleted(Payload):
    """A full or incremental scan wrote its results (also exported as metrics)."""

    scan_id: uuid.UUID = Field(
        description="Identifies the run: the envelope id of the scan command or of the "
        "`import.completed` event that started it."
    )
    mode: ScanMode
    trigger: ScanTrigger = Field(
        description="`import` or `contact_change` for an incremental scan."
    )
    import_id: int | None = Field(description="The import an incremental scan followed.")
    contacts_considered: int
    pairs_found: int
    pairs_by_signal: dict[DedupSignal, int]
    new_candidates: int
    reopened: int = Field(description="Obsolete pairs that became pending again.")
    obsoleted: int
    duration_ms: int


class CandidateDismissed(Payload):
    """A user said a candidate pair is not a duplicate; it never returns."""

    candidate_id: int
    contact_id: int = Field(description="The pair's lower contact id.")
    duplicate_contact_id: int = Field(description="The pair's higher contact id.")
