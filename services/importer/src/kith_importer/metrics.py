"""Importer metrics on kith_common's one registry (ARCHITECTURE §7).

Declared here, apart from the code that moves imports, so each place an import ends or the
coverage backfill finishes records it with one call. The Monica client's own metrics
(requests by endpoint and status, retries, rate-limiter wait) are in
kith_common.monica.metrics. Labels are bounded: `outcome` is a terminal status or a backfill
result, never an id.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter

from kith_common.metrics import REGISTRY

__all__ = ["BACKFILL_CONTACTS", "IMPORTS", "backfill_finished", "import_ended", "imports_swept"]

IMPORTS = Counter(
    "kith_importer_imports_total",
    "Imports that reached a final status in this importer, by outcome "
    "(completed, failed, cancelled) and source (monica_api, vcard, or swept).",
    ["source", "outcome"],
    registry=REGISTRY,
)
BACKFILL_CONTACTS = Counter(
    "kith_importer_backfill_contacts_total",
    "Contacts the Monica listing dropped, by what the coverage backfill did about them: "
    "recovered as a full contact, recovered as a partial, or left unresolved.",
    ["outcome"],
    registry=REGISTRY,
)

for _outcome in ("completed", "failed", "cancelled"):
    for _source in ("monica_api", "vcard"):
        IMPORTS.labels(_source, _outcome)
for _outcome in ("full", "partial", "unresolved"):
    BACKFILL_CONTACTS.labels(_outcome)


def import_ended(source: str, outcome: str) -> None:
    """An import moved to `outcome` (call after the transaction that moved it committed)."""
    IMPORTS.labels(source, outcome).inc()


def imports_swept(failed: int, cancelled: int) -> None:
    """The sweeper failed stalled or expired imports and finished abandoned cancellations."""
    IMPORTS.labels("swept", "failed").inc(failed)
    IMPORTS.labels("swept", "cancelled").inc(cancelled)


def backfill_finished(counts: Mapping[str, int]) -> None:
    """One import's coverage backfill ended; `counts` is its summary's `coverage_backfill`."""
    BACKFILL_CONTACTS.labels("full").inc(int(counts.get("imported_full", 0)))
    BACKFILL_CONTACTS.labels("partial").inc(int(counts.get("imported_partial", 0)))
    BACKFILL_CONTACTS.labels("unresolved").inc(int(counts.get("unresolved_gap", 0)))
