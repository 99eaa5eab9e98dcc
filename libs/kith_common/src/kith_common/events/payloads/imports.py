"""Payloads of the import subjects: start, cancel, connection check, progress and outcomes.

importer.md §2 (connection check), §8–§11 (phases, summaries, events). The Monica API key never
appears here: `ImportOptions` forbids unknown fields, so a key cannot ride along in `options`,
and summaries travel as counts, never the readable error strings.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field

from kith_common.events.envelope import Payload
from kith_common.events.payloads.photos import SyncSummaryCounts

__all__ = [
    "CancelImport",
    "CheckConnection",
    "CheckConnectionCode",
    "CheckConnectionReply",
    "CoverageBackfillCounts",
    "ImportCancelled",
    "ImportCompleted",
    "ImportCounts",
    "ImportFailed",
    "ImportMiscCompleted",
    "ImportOptions",
    "ImportPhase",
    "ImportProgress",
    "ImportSource",
    "MiscCounts",
    "MonicaUser",
    "RequestsByPhase",
    "StartImport",
]

ImportSource = Literal["monica_api", "vcard"]

ImportPhase = Literal[
    "reference_data",
    "listing",
    "notes",
    "coverage_backfill",
    "auto_merge",
    "cross_references",
    "vcard",
    "misc",
    "photos",
    "documents",
]
"""A phase of an import (importer.md §7–§9, §12): the crawl's phases P0–P2 or the vCard parse,
then the misc-data phase, then the media phases run by the photos service."""

CheckConnectionCode = Literal[
    "ok",
    "invalid_key",
    "not_monica",
    "not_found",
    "refused_host",
    "unreachable",
    "error",
]


# --- commands ------------------------------------------------------------------------------------


class StartImport(Payload):
    """Run (or resume) the import whose row the gateway wrote in the same transaction."""

    import_id: int = Field(description="The `imports` row; options and key are read from it.")


class CancelImport(Payload):
    """Wake a phase of the import whose status the cancel function already set to `cancelling`."""

    import_id: int


class CheckConnection(Payload):
    """Core-NATS request: check a Monica URL and key the gateway stored for a few minutes."""

    check_id: uuid.UUID = Field(
        description="The `import_connection_checks` row holding the URL and encrypted key; "
        "the key itself never travels on NATS."
    )


class MonicaUser(Payload):
    """The Monica user `GET /api/me` answered with, shown so the user sees whose data it is."""

    id: int
    name: str = Field(description="Monica's display name of the user.")
    email: str | None = None


class CheckConnectionReply(Payload):
    """The importer's answer to `CheckConnection`."""

    ok: bool
    code: CheckConnectionCode = Field(
        description="Machine-readable outcome: `ok`; `invalid_key` (Monica answered 401); "
        "`not_monica` (a web page, not the API); `not_found` (404); `refused_host` (the SSRF "
        "guard refused it); `unreachable` (connect, TLS, DNS or timeout); `error` (anything else)."
    )
    message: str = Field(description="A readable sentence for the user, never the key.")
    monica_user: MonicaUser | None = Field(default=None, description="Set when `ok`.")


# --- summaries (counts only) ----------------------------------------------------------------------


class ImportOptions(Payload):
    """The import wizard's choices, as the import ran with them. Never includes the API key."""

    auto_merge_duplicates: bool = True
    phone_default_region: str = Field(
        default="", description='A phonenumbers region code, or "" for none.'
    )
    notes: bool = True
    photos: bool = False
    documents: bool = False
    pets: bool = True
    calls: bool = True
    activities: bool = True
    gifts: bool = True
    debts: bool = True
    tasks: bool = True
    reminders: bool = True
    conversations: bool = True
    life_events: bool = True
    journal_entries: bool = True


class CoverageBackfillCounts(Payload):
    """The coverage backfill's counts (`summary.coverage_backfill` of the import)."""

    gap_detected: int = 0
    range_scanned: int = Field(default=0, description="Direct GETs of single contacts.")
    imported_full: int = 0
    imported_partial: int = 0
    skipped_deleted: int = 0
    skipped_inactive: int = 0
    errors: int = Field(default=0, description="Direct GETs that failed (a count).")
    unresolved_gap: int = 0
    requests: int = Field(default=0, description="Every request of the phase, retries included.")
    torn_groups: int = Field(
        default=0,
        description="Tie groups of the listing (contacts sharing a `created_at`) that showed a "
        "duplicate, so lost as many members (API §11.1).",
    )
    relisted: int = Field(
        default=0, description="Re-listing windows asked for (one per torn group when it fits)."
    )
    listing_positions: int = Field(
        default=0, description="Positions the listing filled, duplicates included."
    )
    listing_total: int = Field(
        default=0,
        description="The listing's `meta.total`; when it differs from `listing_positions` the "
        "backfill trusted the positions.",
    )
    unresolved_created_at: list[str] = Field(
        default_factory=list,
        description="The `created_at` of torn tie groups still short after the backfill (at "
        "most 50): where to look in Monica for the contacts counted in `unresolved_gap`.",
    )


RequestsByPhase = dict[str, dict[str, int]]
"""Requests by phase, then by purpose (retries included): `listing` (pages at limit 100),
`relisting` (torn tie groups read again, importer.md §7.4), `direct` (single-contact GETs),
`per_contact` (the per-contact fallback of a short list). Other phases add their own keys (the
media phase counts its downloads per host); a key absent means zero."""

_REQUESTS_BY_PHASE: Any = Field(
    default_factory=dict,
    description="Requests by phase, then by purpose (`listing`, `relisting`, `direct`, "
    "`per_contact`), retries included.",
)


class ImportCounts(Payload):
    """The crawl's summary without its readable `errors` list."""

    imported: int = Field(default=0, description="Contacts created plus updated.")
    contacts: int = 0
    notes: int = 0
    notes_skipped: int = 0
    skipped: int = Field(default=0, description="Soft-deleted local contacts left untouched.")
    merged: int = Field(default=0, description="Auto-merges of this import.")
    relationships: int = 0
    error_count: int = 0
    coverage_backfill: CoverageBackfillCounts | None = Field(
        default=None, description="Monica imports only."
    )
    requests: int = 0
    requests_by_phase: RequestsByPhase = _REQUESTS_BY_PHASE
    rate_limit_wait_seconds: float = 0.0
    duration_seconds: float = 0.0


class MiscCounts(Payload):
    """The misc-data phase's counts (`summary.misc` without its readable errors)."""

    pets: int = 0
    calls: int = 0
    activities: int = 0
    gifts: int = 0
    debts: int = 0
    tasks: int = 0
    reminders: int = 0
    reminders_approximated: int = 0
    conversations: int = 0
    messages: int = 0
    life_events: int = 0
    journal_entries: int = 0
    skipped: dict[str, int] = Field(
        default_factory=dict,
        description="Items skipped by reason (`contact_not_found`, `contact_deleted`, "
        "`no_contact`, ...).",
    )
    missing: dict[str, int] = Field(
        default_factory=dict, description="Items Monica counted but never returned, by type."
    )
    error_count: int = 0
    requests: int = 0
    requests_by_phase: RequestsByPhase = _REQUESTS_BY_PHASE
    rate_limit_wait_seconds: float = 0.0


# --- events ---------------------------------------------------------------------------------------


class ImportProgress(Payload):
    """A phase's position: at its start and end, otherwise at most every 2 s."""

    import_id: int
    phase: ImportPhase
    current: int = Field(description="Items done so far in this phase; never above `total`.")
    total: int | None = Field(description="Items this phase expects; null while unknown.")
    requests_done: int | None = Field(
        default=None,
        description="Requests to Monica so far (retries included) by the crawl, or in a `misc` "
        "event by the misc phase.",
    )
    requests_estimated: int | None = Field(
        default=None,
        description="Requests the crawl (or the misc phase) is expected to make in all, done "
        "ones included; it firms up as each list's first page tells its size.",
    )
    eta_seconds: float | None = Field(
        default=None,
        description="Remaining requests ÷ the Monica rate limit (the import is limiter-bound); "
        "null when the limit is off.",
    )


class ImportCompleted(Payload):
    """The crawl (or vCard parse) finished; the misc-data and media phases may follow."""

    import_id: int
    source: ImportSource
    options: ImportOptions = Field(description="The options the import ran with; never the key.")
    counts: ImportCounts = Field(description="The import's summary minus its `errors` list.")


class ImportMiscCompleted(Payload):
    """The misc-data phase (pets, calls, activities, ...) finished."""

    import_id: int
    misc: MiscCounts


class ImportCancelled(Payload):
    """A phase stopped on `cancelling`, or the cancel function cancelled phases not yet started.

    One of `counts`, `misc` or `sync_summary` carries the counts so far of the phase that
    stopped; all are null when nothing had started.
    """

    import_id: int
    reason: Literal["user", "account_reset"] = Field(description="The import's `cancel_reason`.")
    cancelled_in_phase: ImportPhase | None = Field(
        description="The phase that was running; null when the import was cancelled before "
        "any of its phases started."
    )
    counts: ImportCounts | None = Field(default=None, description="The crawl's counts so far.")
    misc: MiscCounts | None = Field(default=None, description="The misc phase's counts so far.")
    sync_summary: SyncSummaryCounts | None = Field(
        default=None, description="The media phase's counts so far."
    )


class ImportFailed(Payload):
    """A phase failed for good (fatal error, retries exhausted, stalled worker, key expired)."""

    import_id: int
    phase: ImportPhase | None = Field(
        description="The phase that failed; null when the import failed before its first phase."
    )
    reason: str = Field(description="A readable reason, as kept in the import's `error`.")
