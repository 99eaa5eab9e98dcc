"""Photos service metrics (ARCHITECTURE §7), on kith_common's one registry.

Labels are bounded: `kind` is photo or document, `outcome` one of the entry statuses, `reason`
one of the fixed reason codes (never an id or a message).
"""

from __future__ import annotations

from prometheus_client import Counter

from kith_common.metrics import REGISTRY

__all__ = ["FILES_DELETED", "ITEMS", "STORED_BYTES"]

ITEMS = Counter(
    "kith_photos_items_total",
    "Photos and documents the media phase handled, by kind, outcome and reason.",
    ["kind", "outcome", "reason"],
    registry=REGISTRY,
)
STORED_BYTES = Counter(
    "kith_photos_stored_bytes_total",
    "Bytes of photo and document files written to storage (rows committed), by kind.",
    ["kind"],
    registry=REGISTRY,
)
FILES_DELETED = Counter(
    "kith_photos_merged_files_deleted_total",
    "Files of photos a merge dropped, by result (deleted, missing, kept).",
    ["result"],
    registry=REGISTRY,
)
