"""Re-listing the torn tie groups of `/api/photos` and `/api/documents` (API §11.1).

Both lists are LIMIT/OFFSET over `created_at` with no tie-breaker, so a group of items sharing
one `created_at` that straddles a page boundary shows some members twice and others never.
While a list is paged, each page's ids and `created_at` per position (and `meta.total`) are
kept in the checkpoint (`trace`). After its last page, when fewer distinct items were seen than
`meta.total`, the torn groups are planned (`kith_common.monica.relisting`: one window holding a
group whole when one fits a page, else a few overlapping windows) and the windows left are kept
in the checkpoint (`relist`) in place of the trace. Each window is one request whose items go
through the list's own page path (items already seen are skipped there) and one fenced commit
that also drops the window, so a resumed run repeats no finished window. A group's remaining
windows are skipped once all its members were seen, and all are once the list is complete.

This module holds the checkpoint bookkeeping only; the page modules fetch and store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kith_common.monica.relisting import MAX_LIMIT, Window, planned_windows, trace_page

__all__ = ["LISTING", "RELISTING", "Pending", "begin", "finish", "next_window", "take", "trace"]

LISTING: Final = "listing"  # request purposes, as in the importer's `requests_by_phase`
RELISTING: Final = "relisting"


@dataclass(frozen=True, slots=True)
class Pending:
    """The next window to fetch, and the tie group (its `created_at`) it is for."""

    window: Window
    key: str


def trace(
    checkpoint: dict[str, Any],
    page: int,
    listed: Sequence[tuple[int, Any]] | None,
    total: int | None,
) -> None:
    """Keep listed page `page` (limit 100) in the checkpoint's trace: (position, item) pairs
    placed by position, so a position whose row was no usable item (a photo too large even
    alone, a malformed row) fills its place without naming anyone.

    A page that could not be listed (`listed` None) is kept as 100 unnamed positions, so the
    positions of the pages after it stay right; what it held is then only counted missing.
    """
    pages: dict[str, Any] = checkpoint.setdefault("trace", {})
    first = (page - 1) * MAX_LIMIT
    if listed is None:
        pages[str(page)] = {"ids": [None] * MAX_LIMIT, "created": [None] * MAX_LIMIT}
        return
    rows: list[Any] = [{}] * (max((p - first + 1 for p, _ in listed), default=0))
    for position, item in listed:
        if 0 <= position - first < len(rows) and isinstance(item, dict):
            rows[position - first] = item
    kept = trace_page(rows, total or 0)
    if total is None:
        del kept["total"]
    pages[str(page)] = kept


def begin(checkpoint: dict[str, Any], total: int) -> None:
    """After the list's last page: plan the windows of its torn groups, unless planned already.

    Nothing is planned when every item was seen. The plan replaces the trace in the checkpoint;
    it is persisted with the first window's commit (until then the trace is, and a resumed run
    plans the same windows from it).
    """
    if "relist" in checkpoint:
        return
    windows: list[list[Any]] = []
    found: dict[str, int] = {}
    pages: dict[str, Any] = checkpoint.get("trace") or {}
    # A trace that lacks a page (a run resumed from a checkpoint written before traces were
    # kept) would place every group wrong: nothing is planned from it.
    whole_trace = sorted(map(int, pages)) == list(range(1, len(pages) + 1))
    if whole_trace and len(checkpoint.get("seen") or []) < total:
        windows, found = planned_windows(pages)
    checkpoint.pop("trace", None)
    checkpoint.update(relist=windows, found=found)


def next_window(checkpoint: dict[str, Any], total: int) -> Pending | None:
    """The next window worth a request, dropping those whose group is whole (or all of them
    once the list is); None when none is left."""
    windows: list[list[Any]] = checkpoint.setdefault("relist", [])
    found: dict[str, int] = checkpoint.setdefault("found", {})
    complete = len(checkpoint.get("seen") or []) >= total
    while windows:
        limit, page, key, whole = windows[0]
        if not complete and found.get(key, 0) < int(whole):
            return Pending(Window(limit=int(limit), page=int(page)), str(key))
        windows.pop(0)
    return None


def take(
    checkpoint: dict[str, Any],
    items: Sequence[tuple[int, Any]],
    seen_key: Callable[[dict[str, Any], int], str],
) -> int:
    """Account for the window just fetched, before its page commit: drop it from the windows
    left and count the members each group gained. Returns how many items were not seen before
    (the page path stores them; they are what the re-listing recovered)."""
    windows: list[list[Any]] = checkpoint.setdefault("relist", [])
    if windows:
        windows.pop(0)
    found: dict[str, int] = checkpoint.setdefault("found", {})
    seen = set(checkpoint.get("seen") or [])
    fresh = 0
    for position, item in items:
        if not isinstance(item, dict):
            continue
        key = seen_key(item, position)
        if key in seen:
            continue
        seen.add(key)
        fresh += 1
        stamp = item.get("created_at")
        if isinstance(stamp, str):
            found[stamp] = found.get(stamp, 0) + 1
    return fresh


def finish(checkpoint: dict[str, Any]) -> None:
    """Forget a list's trace and windows (the next list starts its own)."""
    for key in ("trace", "relist", "found"):
        checkpoint.pop(key, None)
