"""The media phase's `sync_summary` (importer.md §9): counts, per-item entries, and its JSON.

The summary is rebuilt from the checkpoint on every resume and written with each page's rows,
so `GET /v1/imports/{id}` shows it live and a redelivery never double-counts. `entries` keeps
the newest 500 items, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal

from kith_common.events.payloads.photos import DocumentSyncCounts, SyncSummaryCounts

__all__ = ["ENTRY_CAP", "Counts", "DocumentCounts", "Entry", "Outcome", "SyncSummary"]

ENTRY_CAP: Final = 500
Outcome = Literal["synced", "duplicate", "failed", "not_found"]
Kind = Literal["photo", "document"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One item's outcome, as shown to the user."""

    kind: Kind
    uuid: str | None
    monica_id: int | None
    contact_id: int | None
    monica_contact_id: int | None
    status: Outcome
    reason: str | None = None
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "uuid": self.uuid,
            "monica_id": self.monica_id,
            "contact_id": self.contact_id,
            "monica_contact_id": self.monica_contact_id,
            "status": self.status,
            "reason": self.reason,
        }
        if self.message:
            data["message"] = self.message
        return data


@dataclass(slots=True)
class Counts:
    """Counts of one media kind.

    `recovered` are items first seen by re-listing a torn tie group (API §11.1);
    `requests_by_purpose` splits `requests` into `listing` and `relisting` (documents also
    `download`, files from Monica's origin), as the importer's `requests_by_phase` does.
    """

    total: int = 0
    synced: int = 0
    duplicate: int = 0
    failed: int = 0
    not_found: int = 0
    missing: int = 0
    requests: int = 0
    recovered: int = 0
    requests_by_purpose: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def charge(self, purpose: str, requests: int) -> None:
        """Count `requests` made for `purpose` (nothing when there were none)."""
        if requests:
            self.requests += requests
            self.requests_by_purpose[purpose] = self.requests_by_purpose.get(purpose, 0) + requests

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "synced": self.synced,
            "duplicate": self.duplicate,
            "failed": self.failed,
            "not_found": self.not_found,
            "missing": self.missing,
            "requests": self.requests,
            "recovered": self.recovered,
            "requests_by_purpose": dict(sorted(self.requests_by_purpose.items())),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Counts:
        data = data or {}
        numbers = {f.name: int(data.get(f.name, 0) or 0) for f in fields(cls) if f.type == "int"}
        return cls(**numbers, requests_by_purpose=_by_purpose(data))


def _by_purpose(data: dict[str, Any]) -> dict[str, int]:
    purposes = data.get("requests_by_purpose")
    if not isinstance(purposes, dict):
        return {}  # a summary written before requests were split by purpose
    return {str(k): int(v) for k, v in purposes.items() if isinstance(v, int)}


@dataclass(slots=True)
class DocumentCounts(Counts):
    """Counts of documents, and their download requests by origin (`scheme://host:port`)."""

    downloads: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**Counts.to_json(self), "downloads": dict(sorted(self.downloads.items()))}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DocumentCounts:
        data = data or {}
        base = Counts.from_json(data)
        downloads = data.get("downloads")
        return cls(
            **{f.name: getattr(base, f.name) for f in fields(Counts)},
            downloads={str(k): int(v) for k, v in (downloads or {}).items()},
        )


@dataclass(slots=True)
class SyncSummary:
    """`sync_summary`: `{status, total, synced, ..., entries, documents{...}}`."""

    status: str = "processing"
    photos: Counts = field(default_factory=Counts)
    documents: DocumentCounts = field(default_factory=DocumentCounts)
    entries: list[dict[str, Any]] = field(default_factory=list)
    rate_limit_wait_seconds: float = 0.0

    def record(self, entry: Entry) -> None:
        (self.photos if entry.kind == "photo" else self.documents).add(entry.status)
        self.entries.insert(0, entry.to_json())
        del self.entries[ENTRY_CAP:]

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            **self.photos.to_json(),
            "rate_limit_wait_seconds": round(self.rate_limit_wait_seconds, 3),
            "entries": list(self.entries),
            "documents": self.documents.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SyncSummary:
        data = data or {}
        return cls(
            status=str(data.get("status", "processing")),
            photos=Counts.from_json(data),
            documents=DocumentCounts.from_json(data.get("documents")),
            entries=list(data.get("entries", [])),
            rate_limit_wait_seconds=float(data.get("rate_limit_wait_seconds", 0.0) or 0.0),
        )

    def counts(self) -> SyncSummaryCounts:
        """The summary as it travels on the bus: counts only, no entries."""
        return SyncSummaryCounts(
            **self.photos.to_json(),
            documents=DocumentSyncCounts(**self.documents.to_json()),
        )
