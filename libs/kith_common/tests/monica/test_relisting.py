"""The re-listing arithmetic (importer.md §7.4 B/C) on random worlds of tied groups and page cuts.

A simulated listing orders each tie group by a permutation drawn per query (limit, page), as
MySQL may for every OFFSET; the arithmetic must see every torn group, spend nothing on an
untorn one, and its windows must bring every dropped row back.
"""

from __future__ import annotations

import hashlib
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from kith_common.monica.relisting import (
    Listed,
    Window,
    cover_windows,
    positions,
    relisting_plan,
    single_window,
    tie_groups,
)

World = list[list[int]]  # tie groups in sort order, each a list of ids


def _world(sizes: list[int]) -> World:
    groups, next_id = [], 1
    for size in sizes:
        groups.append(list(range(next_id, next_id + size)))
        next_id += size
    return groups


def _query(world: World, window: Window, seed: int) -> list[Listed]:
    """One LIMIT/OFFSET query: each group in an order of its own for this (limit, page)."""
    rows: list[Listed] = []
    for index, group in enumerate(world):
        members = list(group)
        digest = hashlib.sha256(repr((seed, window.limit, window.page, index)).encode()).digest()
        random.Random(digest).shuffle(members)
        rows.extend(Listed(id=m, key=f"t{index}") for m in members)
    return rows[window.first : window.last + 1]


def _listing(world: World, limit: int, seed: int) -> list[Listed]:
    total = sum(len(g) for g in world)
    rows: list[Listed] = []
    for page in range(1, max(1, math.ceil(total / limit)) + 1):
        rows.extend(_query(world, Window(limit, page), seed))
    return rows


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=40),
    limit=st.integers(min_value=4, max_value=25),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_every_dropped_row_comes_back_and_untorn_groups_cost_nothing(
    sizes: list[int], limit: int, seed: int
) -> None:
    world = _world(sizes)
    listed = _listing(world, limit, seed)
    groups = tie_groups(listed)
    # Positions, not distinct ids, give each group's size and offset, and they add up.
    assert [g.size for g in groups] == sizes
    assert [g.offset for g in groups] == [sum(sizes[:i]) for i in range(len(sizes))]
    assert positions(groups) == sum(sizes)
    seen = {row.id for row in listed}
    for group, truth in zip(groups, world, strict=True):
        assert group.missing == len(set(truth) - seen)  # one member lost per duplicate
    plan = relisting_plan(groups, max_limit=limit, listing_limit=limit)
    planned = {g.key for g, _ in plan}
    assert planned == {g.key for g in groups if g.torn}  # no window for an untorn group
    recovered = set(seen)
    for group, windows in plan:
        index = groups.index(group)
        whole = single_window(group.offset, group.end, limit)
        if whole is not None:
            assert windows == [whole]
            assert whole.covers(group.offset, group.end)
            got = {r.id for r in _query(world, whole, seed) if r.key == group.key}
            assert got == set(world[index])  # one request brings the whole group
        else:
            assert len(windows) <= 3 * math.ceil(group.size / limit)
            for window in windows:
                assert window.overlap(group.offset, group.end) > 0
                assert window.limit != limit  # never the listing's own query again
        for window in windows:
            recovered |= {r.id for r in _query(world, window, seed)}
    fits = [g for g in groups if g.torn and single_window(g.offset, g.end, limit)]
    for group in fits:
        assert set(world[groups.index(group)]) <= recovered


@given(
    first=st.integers(min_value=0, max_value=2_000),
    span=st.integers(min_value=1, max_value=100),
)
@settings(max_examples=200, deadline=None, derandomize=True)
def test_the_single_window_is_the_smallest_limit_that_holds_the_group(
    first: int, span: int
) -> None:
    last = first + span - 1
    window = single_window(first, last)
    fitting = [size for size in range(span, 101) if first // size == last // size]
    if not fitting:
        assert window is None
        return
    assert window == Window(limit=fitting[0], page=first // fitting[0] + 1)
    assert window.covers(first, last)


def test_the_issue_example_and_a_group_larger_than_a_page() -> None:
    # 150 positions, a 12-row tie at offsets 95..106 torn by the cut at 100.
    rows = [Listed(i, f"a{i}") for i in range(95)]
    rows += [Listed(1000 + i % 10, "tie") for i in range(12)]  # 12 rows, 10 distinct
    rows += [Listed(i, f"b{i}") for i in range(200, 243)]
    [(group, windows)] = relisting_plan(tie_groups(rows))
    assert (group.offset, group.size, group.missing) == (95, 12, 2)
    assert windows == [Window(limit=18, page=6)]  # positions 90..107, one request
    big = tie_groups([Listed(i % 150, "big") for i in range(160)])[0]
    assert big.missing == 10
    windows = cover_windows(big)
    assert len(windows) == 6  # 3 × the two pages it spans
    assert all(w.limit != 100 and w.overlap(0, 159) >= 50 for w in windows)
