"""Re-listing torn tie groups (importer.md §7.4 B and C, API §11.1): the arithmetic, pure.

A Monica listing is LIMIT/OFFSET over a sort column with no unique tie-breaker, so rows that
share a `created_at` may come back in a different order for every page, and a tie group that
straddles a page boundary shows some members twice and others never. One query, however,
never returns a row twice or skips one, and every position of the listing is filled by exactly
one row. Hence, from the rows a listing showed, in order:

- a tie group's *size* is the number of positions it filled (duplicates included) and its
  *offset* the sum of the sizes before it; the sizes add up to the rows the listing holds, which
  should equal `meta.total`;
- a group that showed a duplicate is *torn*: it lost as many members as it showed duplicates,
  and an untorn group lost none;
- a torn group at offsets [a, b] of at most one page comes back whole from the single page
  (limit L, page ⌊a/L⌋ + 1) with the smallest L ≥ b − a + 1 for which ⌊a/L⌋ = ⌊b/L⌋, because a
  query whose window holds every position of the group returns every member (stage B);
- a larger group (or one no such L fits) is read through several windows that overlap it
  most, each with its own limit or page, so each sees the group in another order (stage C).

Nothing here does IO: the importer's phases and the photos service's media lists feed it the
trace of what they listed and run the windows it plans (it lives in kith_common because both
services use it). A property test (random worlds of tied groups and page cuts) checks that
every dropped row is recovered and that no window is spent on an untorn group.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kith_common.monica.values import as_int

__all__ = [
    "MAX_LIMIT",
    "Listed",
    "TieGroup",
    "Window",
    "cover_windows",
    "planned_windows",
    "positions",
    "relisting_plan",
    "single_window",
    "tie_groups",
    "trace_page",
    "trace_rows",
]

MAX_LIMIT: Final = 100  # API §2: a larger `limit` answers 400
WINDOWS_PER_PAGE: Final = 3  # stage C's budget: 3 windows per page the group spans


@dataclass(frozen=True, slots=True)
class Listed:
    """One row as a listing showed it: its id (None when unusable) and its sort value."""

    id: int | None
    key: str | None


@dataclass(frozen=True, slots=True)
class TieGroup:
    """The rows of a listing that share one sort value, and the positions they filled."""

    key: str | None
    offset: int  # 0-based position of the group's first row
    size: int  # positions filled, duplicates included
    ids: frozenset[int]  # distinct ids seen
    unnamed: int = 0  # rows without a usable id (they fill a position, name no one)

    @property
    def end(self) -> int:
        """0-based position of the group's last row."""
        return self.offset + self.size - 1

    @property
    def missing(self) -> int:
        """Members the listing never showed: one per duplicate."""
        return max(0, self.size - self.unnamed - len(self.ids))

    @property
    def torn(self) -> bool:
        return self.missing > 0


@dataclass(frozen=True, slots=True)
class Window:
    """One page of a listing at one limit: positions [(page − 1)·limit, page·limit)."""

    limit: int
    page: int

    @property
    def first(self) -> int:
        return (self.page - 1) * self.limit

    @property
    def last(self) -> int:
        return self.page * self.limit - 1

    def covers(self, first: int, last: int) -> bool:
        return self.first <= first and last <= self.last

    def overlap(self, first: int, last: int) -> int:
        return max(0, min(last, self.last) - max(first, self.first) + 1)


def tie_groups(rows: Iterable[Listed]) -> list[TieGroup]:
    """The tie groups of a listing's rows given in listing order (page 1 first).

    Groups are ordered by first appearance, which is the listing's order whichever way it
    sorts (contacts ascend, notes descend). A row without a sort value is a group of its own.
    """
    order: list[str | tuple[int] | None] = []
    sizes: dict[str | tuple[int] | None, int] = {}
    ids: dict[str | tuple[int] | None, set[int]] = {}
    unnamed: dict[str | tuple[int] | None, int] = {}
    for index, row in enumerate(rows):
        key: str | tuple[int] | None = row.key if row.key is not None else (index,)
        if key not in sizes:
            order.append(key)
            sizes[key], ids[key], unnamed[key] = 0, set(), 0
        sizes[key] += 1
        if row.id is None:
            unnamed[key] += 1
        else:
            ids[key].add(row.id)
    groups: list[TieGroup] = []
    offset = 0
    for key in order:
        groups.append(
            TieGroup(
                key=key if not isinstance(key, tuple) else None,
                offset=offset,
                size=sizes[key],
                ids=frozenset(ids[key]),
                unnamed=unnamed[key],
            )
        )
        offset += sizes[key]
    return groups


def positions(groups: Sequence[TieGroup]) -> int:
    """The positions the listing filled: what `meta.total` should say."""
    return sum(g.size for g in groups)


def single_window(first: int, last: int, max_limit: int = MAX_LIMIT) -> Window | None:
    """Stage B: the smallest-limit page holding positions [first, last] whole, if one exists."""
    for limit in range(last - first + 1, max_limit + 1):
        if first // limit == last // limit:
            return Window(limit=limit, page=first // limit + 1)
    return None


def cover_windows(
    group: TieGroup,
    *,
    max_limit: int = MAX_LIMIT,
    listing_limit: int = MAX_LIMIT,
    budget: int | None = None,
) -> list[Window]:
    """Stage C: windows that overlap `group` most, each a query the listing never sent.

    Ordered by overlap (most first), then larger limits; the listing's own pages are left out
    (the same query would show the same order). At most `budget` windows, by default
    3 × the pages the group spans.
    """
    if budget is None:
        budget = WINDOWS_PER_PAGE * max(1, math.ceil(group.size / max_limit))
    floor = max(1, min(max_limit, group.size) // 2)
    candidates: list[tuple[int, int, int, Window]] = []
    for limit in range(max_limit, floor - 1, -1):
        for page in range(group.offset // limit + 1, group.end // limit + 2):
            window = Window(limit=limit, page=page)
            if limit == listing_limit:
                continue
            overlap = window.overlap(group.offset, group.end)
            if overlap:
                candidates.append((-overlap, -limit, page, window))
    candidates.sort(key=lambda c: c[:3])
    return [c[3] for c in candidates[:budget]]


def relisting_plan(
    groups: Sequence[TieGroup],
    *,
    max_limit: int = MAX_LIMIT,
    listing_limit: int = MAX_LIMIT,
) -> list[tuple[TieGroup, list[Window]]]:
    """Each torn group with the windows to ask for, in order: one whole-group window when
    one fits (stage B), else the bounded stage C windows. Untorn groups get none."""
    plan: list[tuple[TieGroup, list[Window]]] = []
    for group in groups:
        if not group.torn:
            continue
        whole = single_window(group.offset, group.end, max_limit)
        if whole is not None:
            plan.append((group, [whole]))
        else:
            windows = cover_windows(group, max_limit=max_limit, listing_limit=listing_limit)
            plan.append((group, windows))
    return plan


def planned_windows(
    pages: Mapping[str, Mapping[str, Any]],
) -> tuple[list[list[Any]], dict[str, int]]:
    """A listing trace's re-listing windows, as JSON for a checkpoint: `[limit, page, group
    key, group members]` per window, in plan order, and how many members of each torn group
    the listing showed (a phase stops a group's windows once all of them are seen)."""
    rows, _ = trace_rows(pages)
    windows: list[list[Any]] = []
    found: dict[str, int] = {}
    for group, planned in relisting_plan(tie_groups(rows)):
        if group.key is None:
            continue
        found[group.key] = len(group.ids)
        whole = group.size - group.unnamed
        windows.extend([w.limit, w.page, group.key, whole] for w in planned)
    return windows, found


def trace_page(rows: Sequence[Any], total: int, column: str = "created_at") -> dict[str, Any]:
    """What a phase keeps of one listed page: its ids and sort values in order, and the
    page's `meta.total` (JSON, for staging or a checkpoint)."""
    ids: list[int | None] = []
    keys: list[Any] = []
    for row in rows:
        item = row if isinstance(row, Mapping) else {}
        ids.append(as_int(item.get("id")))
        keys.append(item.get(column))
    return {"ids": ids, "created": keys, "total": total}


def trace_rows(pages: Mapping[str, Mapping[str, Any]]) -> tuple[list[Listed], int | None]:
    """A listing trace (page number → `trace_page`) as rows in listing order, and the last
    page's `meta.total` (None when no page kept one)."""
    rows: list[Listed] = []
    total: int | None = None
    for key in sorted(pages, key=int):
        page = pages[key]
        keys = page.get("created", [])
        for index, mid in enumerate(page.get("ids", [])):
            stamp = keys[index] if index < len(keys) else None
            usable = isinstance(mid, int) and not isinstance(mid, bool)
            rows.append(Listed(mid if usable else None, stamp if isinstance(stamp, str) else None))
        if isinstance(page.get("total"), int):
            total = int(page["total"])
    return rows, total
