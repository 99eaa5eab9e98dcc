"""One realistic, fixed example per subject: for the AsyncAPI document and for tests.

Every value is a constant (no random ids, no clock), so the rendered document is stable. A
subject added to the registry without an example here fails the contract tests.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from kith_common.events import payloads as p
from kith_common.events import subjects as s
from kith_common.events.envelope import Envelope, Payload
from kith_common.events.payloads.imports import (
    CoverageBackfillCounts,
    ImportCounts,
    ImportOptions,
    MiscCounts,
    MonicaUser,
)
from kith_common.events.payloads.photos import DocumentSyncCounts, SyncSummaryCounts
from kith_common.events.registry import build_envelope, envelope_model, reply_type

__all__ = ["EXAMPLES", "REPLIES", "example_envelope", "publish_subject"]

MERGE_ID = uuid.UUID("0b7c6a8e-4f0e-4a8b-9d59-0d8a3a7f1c11")
CHECK_ID = uuid.UUID("5d0f5b4e-2a43-4c8e-8f3d-6b1e2f9a7c20")
SCAN_ID = uuid.UUID("9e2d7c1a-0b4f-4d6e-a8c5-3f7b1e0d2c33")
ENVELOPE_ID = uuid.UUID("3c4d5e6f-7081-4a92-b3c4-d5e6f7081a92")
CORRELATION_ID = uuid.UUID("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d")
OCCURRED_AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
COUNTS = ImportCounts(
    imported=12,
    contacts=12,
    notes=30,
    notes_skipped=1,
    skipped=1,
    merged=2,
    relationships=4,
    error_count=1,
    coverage_backfill=CoverageBackfillCounts(
        gap_detected=2,
        imported_full=2,
        torn_groups=1,
        relisted=1,
        listing_positions=120,
        listing_total=120,
        requests=1,
    ),
    requests=9,
    requests_by_phase={
        "reference_data": {"listing": 4},
        "listing": {"listing": 2},
        "notes": {"listing": 2},
        "coverage_backfill": {"relisting": 1},
    },
    rate_limit_wait_seconds=1.5,
    duration_seconds=12.25,
)
MISC = MiscCounts(pets=1, calls=3, skipped={"contact_not_found": 2}, missing={"gifts": 1})
SYNC = SyncSummaryCounts(
    total=5, synced=3, duplicate=1, failed=1, documents=DocumentSyncCounts(total=1, synced=1)
)

EXAMPLES: dict[str, Payload] = {
    s.IMPORT_START: p.StartImport(import_id=41),
    s.IMPORT_CANCEL: p.CancelImport(import_id=41),
    s.DEDUP_SCAN: p.ScanDuplicates(account_id=7, trigger="api", requested_by=3),
    s.CONTACTS_MERGE: p.MergeContacts(
        survivor_id=10,
        loser_id=11,
        field_choices={"company": "loser", "first_name": "survivor"},
        candidate_id=5,
        requested_by=3,
    ),
    s.PHONES_RENORMALIZE: p.RenormalizePhones(account_id=7),
    s.PHOTOS_SYNC: p.SyncPhotos(import_id=41),
    s.ACCOUNT_RESET: p.ResetAccount(reset_id=2, attempt=1),
    s.RPC_IMPORT_CHECK_CONNECTION: p.CheckConnection(check_id=CHECK_ID),
    s.IMPORT_PROGRESS: p.ImportProgress(
        import_id=41,
        phase="listing",
        current=100,
        total=120,
        requests_done=6,
        requests_estimated=9,
        eta_seconds=3.3,
    ),
    s.IMPORT_COMPLETED: p.ImportCompleted(
        import_id=41,
        source="monica_api",
        options=ImportOptions(photos=True, phone_default_region="US"),
        counts=COUNTS,
    ),
    s.IMPORT_MISC_COMPLETED: p.ImportMiscCompleted(import_id=41, misc=MISC),
    s.IMPORT_CANCELLED: p.ImportCancelled(
        import_id=41, reason="user", cancelled_in_phase="notes", counts=COUNTS
    ),
    s.IMPORT_FAILED: p.ImportFailed(import_id=41, phase="listing", reason="page 2: HTTP 500"),
    s.PHOTOS_SYNC_COMPLETED: p.PhotosSyncCompleted(import_id=41, sync_summary=SYNC),
    s.DEDUP_SCAN_COMPLETED: p.DedupScanCompleted(
        scan_id=SCAN_ID,
        mode="incremental",
        trigger="import",
        import_id=41,
        contacts_considered=120,
        pairs_found=3,
        pairs_by_signal={"name_match": 2, "email_match": 1},
        new_candidates=2,
        reopened=0,
        obsoleted=1,
        duration_ms=85,
    ),
    s.DEDUP_CANDIDATE_DISMISSED: p.CandidateDismissed(
        candidate_id=5, contact_id=10, duplicate_contact_id=11
    ),
    s.CONTACT_CREATED: p.ContactCreated(contact_id=10),
    s.CONTACT_UPDATED: p.ContactUpdated(contact_id=10, changed=["company", "fields"]),
    s.CONTACT_DELETED: p.ContactDeleted(contact_id=11),
    s.CONTACT_RESTORED: p.ContactRestored(contact_id=11),
    s.CONTACTS_MERGED: p.ContactsMerged(
        merge_id=MERGE_ID,
        survivor_id=10,
        loser_id=11,
        source="api",
        import_id=None,
        moved={"notes": 2, "photos": 1},
        dropped={"photos": 1},
        dropped_photo_storage_keys=["a/7/photos/4b1d.jpg"],
    ),
    s.CONTACTS_MERGE_FAILED: p.ContactsMergeFailed(merge_id=MERGE_ID, code="already_merged"),
    s.PHONES_RENORMALIZED: p.PhonesRenormalized(
        account_id=7, scanned=1201, updated=3, keys_changed=4
    ),
    s.ACCOUNT_RESET_ACCEPTED: p.AccountResetAccepted(reset_id=2, attempt=1),
    s.ACCOUNT_RESET_IMPORTS_STOPPED: p.AccountResetImportsStopped(reset_id=2, attempt=1),
    s.ACCOUNT_RESET_STORAGE_STARTED: p.AccountResetStorageStarted(reset_id=2, attempt=1),
    s.ACCOUNT_RESET_STARTED: p.AccountResetStarted(reset_id=2, attempt=1),
    s.ACCOUNT_RESET_CONTACTS_STARTED: p.AccountResetContactsStarted(reset_id=2, attempt=1),
    s.ACCOUNT_RESET_DOMAIN_PROGRESS: p.AccountResetDomainProgress(
        reset_id=2, attempt=1, domain="notes", counts={"notes": 500}
    ),
    s.ACCOUNT_RESET_DOMAIN_DONE: p.AccountResetDomainDone(
        reset_id=2, attempt=1, domain="conversations", counts={"messages": 9, "conversations": 2}
    ),
    s.ACCOUNT_RESET_DOMAIN_FAILED: p.AccountResetDomainFailed(
        reset_id=2, attempt=2, domain="storage", error="backend refused a delete"
    ),
    s.ACCOUNT_RESET_COMPLETED: p.AccountResetCompleted(
        reset_id=2,
        attempt=1,
        counts={"storage": {"photos": 3, "orphans": 1}, "contacts": {"contacts": 20}},
    ),
    s.ACCOUNT_RESET_FAILED: p.AccountResetFailed(
        reset_id=2, attempt=1, domain="fanin", error="lock timeout"
    ),
    s.DLQ_ALL: p.DeadLetter(
        subject=s.ACCOUNT_RESET_STARTED,
        consumer="reset-notes",
        envelope={
            "id": str(ENVELOPE_ID),
            "type": "account.reset.started",
            "occurred_at": "2026-01-02T03:04:05Z",
            "account_id": 7,
            "generation": 3,
            "correlation_id": str(CORRELATION_ID),
            "data": {"reset_id": 2, "attempt": 1},
        },
        stream_sequence=812,
        error_type="TimeoutError",
        error_message="lock timeout",
        deliveries=6,
        failed_at=OCCURRED_AT,
    ),
}

REPLIES: dict[str, Payload] = {
    s.RPC_IMPORT_CHECK_CONNECTION: p.CheckConnectionReply(
        ok=True,
        code="ok",
        message="Connected as Ann Lee",
        monica_user=MonicaUser(id=1, name="Ann Lee", email="ann@example.com"),
    ),
}


def publish_subject(subject: str) -> str:
    """The concrete subject a registry key is published on (dead letters: `reset-notes`'s)."""
    return s.dlq_subject("reset-notes") if subject == s.DLQ_ALL else subject


def example_envelope(subject: str, *, reply: bool = False) -> Envelope[Payload]:
    """The example of a registry subject (or its reply) in a complete, fixed envelope."""
    on = publish_subject(subject)
    head: dict[str, Any] = {
        "id": ENVELOPE_ID,
        "occurred_at": OCCURRED_AT,
        "account_id": 7,
        "generation": 3,
        "correlation_id": CORRELATION_ID,
    }
    if reply:
        data = REPLIES[subject]
        return envelope_model(type(data))(data=data, type=reply_type(on), **head)
    return build_envelope(on, EXAMPLES[subject], **head)
