"""Payloads of the photo and document sync (photos service; importer.md §9).

The sync summary travels as counts: the per-item `entries` list stays in the import row, and no
photo bytes ever go on the bus (ARCHITECTURE §3).
"""

from __future__ import annotations

from pydantic import Field

from kith_common.events.envelope import Payload

__all__ = ["DocumentSyncCounts", "PhotosSyncCompleted", "SyncPhotos", "SyncSummaryCounts"]


class SyncPhotos(Payload):
    """Re-run the photo and document sync of a finished Monica import (`media/retry`)."""

    import_id: int = Field(
        description="The `imports` row; the API key is in it, encrypted, never in this message."
    )


class DocumentSyncCounts(Payload):
    """`sync_summary.documents`."""

    total: int = 0
    synced: int = 0
    duplicate: int = 0
    failed: int = 0
    not_found: int = 0
    missing: int = 0
    requests: int = Field(
        default=0,
        description="Requests to Monica: listing pages and downloads from Monica's origin.",
    )
    recovered: int = Field(
        default=0,
        description="Documents first seen by re-listing a torn tie group (API §11.1): the "
        "listing at limit 100 skipped them.",
    )
    requests_by_purpose: dict[str, int] = Field(
        default_factory=dict,
        description="`requests` by purpose: `listing` (pages at limit 100), `relisting` (torn "
        "tie groups read again), `download` (files from Monica's origin).",
    )
    downloads: dict[str, int] = Field(
        default_factory=dict,
        description="Download requests by origin (`scheme://host:port`), Monica's included.",
    )


class SyncSummaryCounts(Payload):
    """The import's `sync_summary` without its per-item `entries`."""

    total: int = 0
    synced: int = 0
    duplicate: int = 0
    failed: int = 0
    not_found: int = 0
    missing: int = Field(
        default=0,
        description="Monica's `meta.total` minus photos seen, after re-listing torn tie groups.",
    )
    requests: int = 0
    recovered: int = Field(
        default=0,
        description="Photos first seen by re-listing a torn tie group (API §11.1): the "
        "listing at limit 100 skipped them.",
    )
    requests_by_purpose: dict[str, int] = Field(
        default_factory=dict,
        description="`requests` by purpose: `listing` (pages at limit 100 and their smaller-"
        "limit refetches), `relisting` (torn tie groups read again).",
    )
    documents: DocumentSyncCounts = Field(default_factory=DocumentSyncCounts)


class PhotosSyncCompleted(Payload):
    """The media phase (photos, then documents) of an import finished."""

    import_id: int
    sync_summary: SyncSummaryCounts
