"""Dedup metrics on the shared registry (ARCHITECTURE §7): scans, pairs, merges, backfill."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from kith_common.events.payloads.dedup import DedupScanCompleted
from kith_common.metrics import REGISTRY

__all__ = [
    "MERGES",
    "PAIRS_EVALUATED",
    "PAIRS_FOUND",
    "PHONES_ROWS",
    "SCANS",
    "SCAN_CANDIDATES",
    "SCAN_SECONDS",
    "observe_scan",
]

SCANS = Counter(
    "kith_dedup_scans_total", "Detection runs written, by mode.", ["mode"], registry=REGISTRY
)
SCAN_SECONDS = Histogram(
    "kith_dedup_scan_duration_seconds",
    "Wall time of a detection run (lock wait, read, compute and write).",
    ["mode"],
    registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
PAIRS_FOUND = Counter(
    "kith_dedup_pairs_found_total",
    "Pairs found by detection runs, by signal (a pair counts once per signal).",
    ["mode", "signal"],
    registry=REGISTRY,
)
PAIRS_EVALUATED = Counter(
    "kith_dedup_pairs_evaluated_total",
    "Pairs whose trigram overlap or keys a run compared (the work, not the result).",
    ["mode"],
    registry=REGISTRY,
)
SCAN_CANDIDATES = Counter(
    "kith_dedup_candidates_written_total",
    "Candidate rows a run changed, by outcome (new, reopened, obsoleted).",
    ["mode", "outcome"],
    registry=REGISTRY,
)
MERGES = Counter(
    "kith_dedup_merges_total",
    "Merge commands handled, by outcome (done, failed).",
    ["outcome"],
    registry=REGISTRY,
)
PHONES_ROWS = Counter(
    "kith_dedup_renormalize_rows_total",
    "Rows the renormalize backfill read, updated or re-keyed.",
    ["outcome"],
    registry=REGISTRY,
)


def observe_scan(result: DedupScanCompleted, evaluated: int, seconds: float) -> None:
    SCANS.labels(result.mode).inc()
    SCAN_SECONDS.labels(result.mode).observe(seconds)
    PAIRS_EVALUATED.labels(result.mode).inc(evaluated)
    for signal, count in result.pairs_by_signal.items():
        PAIRS_FOUND.labels(result.mode, signal).inc(count)
    SCAN_CANDIDATES.labels(result.mode, "new").inc(result.new_candidates)
    SCAN_CANDIDATES.labels(result.mode, "reopened").inc(result.reopened)
    SCAN_CANDIDATES.labels(result.mode, "obsoleted").inc(result.obsoleted)
