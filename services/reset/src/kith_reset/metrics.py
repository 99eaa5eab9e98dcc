"""The reset's metrics (reset.md §8), on the one shared registry."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from kith_common.metrics import REGISTRY

RESETS = Counter(
    "kith_resets_total",
    "Resets that ended, by outcome (completed, failed).",
    ["outcome"],
    registry=REGISTRY,
)
RESET_SECONDS = Histogram(
    "kith_reset_duration_seconds",
    "From the first attempt's request to completion.",
    registry=REGISTRY,
    buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
ROWS_DELETED = Counter(
    "kith_reset_rows_deleted_total",
    "Rows deleted by the cleanup consumers.",
    ["domain", "table"],
    registry=REGISTRY,
)
FILES_DELETED = Counter(
    "kith_reset_files_deleted_total",
    "Files handled by the storage stage, by class (photos, documents, imports, orphans, missing).",
    ["class"],
    registry=REGISTRY,
)
