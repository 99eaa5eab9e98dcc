"""Name pairs: every pair of contacts with pg_trgm similarity > 0.5, exactly (dedup.md §3.2).

The trigram sets are PostgreSQL's own (`show_trgm`), similarity is computed as pg_trgm does
(float4 overlap / float4 union), and no pair is lost: candidates come from a prefix filter
whose lemma guarantees every qualifying pair is generated, then each is verified exactly.

How, without O(n²) work and without a Python loop per pair:

- Contacts with the same trigram set are one group (similarity 1.0 among themselves).
- Trigrams become ints ranked rarest-first over the groups (ties by text); each group's set
  is its ranks, sorted. Groups of one size form a dense block (groups × size) of ranks.
- For a size pair (nx ≥ ny, 2·ny > nx: the size bound) the needed overlap is
  α = ⌊(nx+ny)/3⌋ + 1 (3·overlap > nx+ny). If x and y share α tokens, their first k common
  tokens lie within x's first nx−α+k and y's first ny−α+k ranks (the prefix lemma,
  generalised to k hits). So candidates are the pairs whose prefixes share ≥ k tokens,
  counted by one sparse product of the two blocks' prefix matrices (scipy, in C).
- Candidates are verified on the dense blocks (broadcast equality of the sorted ranks).

An incremental run (focus set Q) computes the same blocks and products restricted to rows or
columns of groups holding a contact of Q, so it yields exactly the full run's pairs that
touch Q, and evaluates no pair without a side in Q.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import numpy.typing as npt
from scipy import sparse

__all__ = ["SEPARATOR", "NameSets", "similar_pairs"]

SEPARATOR = "\x01"
"""Joins a group's trigrams into its key (never part of a pg_trgm trigram)."""

Pair = tuple[int, int]
Ints = npt.NDArray[np.int64]

# Shared prefix tokens a candidate must show (k of the lemma; at most α). Larger k means
# longer prefixes (a bigger product) but fewer candidates to verify; 3 was fastest on the
# benchmark's 100,000 multi-locale names (bench/dedup).
_HITS = 3
# Bound on the entries one sparse product may produce (~12 bytes each as COO, plus scipy's
# CSR intermediate: a few hundred MB at most) and elements of one verification batch.
_PRODUCT_ENTRIES = 1 << 24
_VERIFY_ELEMENTS = 1 << 22


@dataclass(frozen=True, slots=True)
class NameSets:
    """The live contacts of an account grouped by identical trigram set.

    `keys[g]`: group g's trigrams in a canonical order joined by `SEPARATOR`; `members[g]`:
    its contact ids, ascending. `contacts`: live contacts read, those whose display name has
    no trigram (and so no group: no trigrams, no match) included.
    """

    keys: Sequence[str]
    members: Sequence[Sequence[int]]
    contacts: int

    @classmethod
    def from_keys(cls, ids: Sequence[int], keys: Iterable[str]) -> NameSets:
        """From each contact's canonical key ("" when it has no trigram), as the read gives."""
        groups: dict[str, list[int]] = {}
        for cid, key in zip(ids, keys, strict=True):
            if key:
                members = groups.get(key)
                if members is None:
                    groups[key] = [cid]
                else:
                    members.append(cid)
        return cls(list(groups), [sorted(m) for m in groups.values()], len(ids))

    @classmethod
    def of(cls, trigrams: Mapping[int, Iterable[str]]) -> NameSets:
        """From contact id → trigrams (any order, repeats allowed)."""
        ids = sorted(trigrams)
        return cls.from_keys(ids, (SEPARATOR.join(sorted(set(trigrams[c]))) for c in ids))

    def trigrams(self) -> dict[int, list[str]]:
        """Contact id → trigrams, for contacts that have any."""
        pairs = zip(self.keys, self.members, strict=True)
        return {c: key.split(SEPARATOR) for key, ids in pairs for c in ids}


@dataclass(slots=True)
class _Block:
    """Groups of one size: their group numbers and their ranks (one sorted row each)."""

    groups: Ints
    ranks: npt.NDArray[np.int32]

    def prefix(self, length: int, vocabulary: int, rows: Ints | None = None) -> sparse.csr_matrix:
        """Rows × vocabulary 0/1 matrix of each row's first `length` ranks."""
        ranks = self.ranks if rows is None else self.ranks[rows]
        count = ranks.shape[0]
        return sparse.csr_matrix(
            (
                np.ones(count * length, np.int32),
                ranks[:, :length].ravel(),
                np.arange(0, count * length + 1, length),
            ),
            shape=(count, vocabulary),
        )


@dataclass(slots=True)
class _Ranked:
    blocks: dict[int, _Block]
    vocabulary: int


def _rank(keys: Sequence[str]) -> _Ranked:
    """Each group's trigrams as ranks, rarest first across the groups (ties by text)."""
    tokens = SEPARATOR.join(keys).split(SEPARATOR)
    sizes = np.fromiter((k.count(SEPARATOR) + 1 for k in keys), np.int64, len(keys))
    text_order = sorted(set(tokens))
    by_text = {t: i for i, t in enumerate(text_order)}
    flat = np.fromiter(map(by_text.__getitem__, tokens), np.int64, len(tokens))
    frequency = np.bincount(flat, minlength=len(text_order))
    rank = np.empty(len(text_order), np.int64)
    rank[np.argsort(frequency, kind="stable")] = np.arange(len(text_order))
    row = np.repeat(np.arange(len(keys), dtype=np.int64), sizes)
    vocabulary = len(text_order)
    # one sort orders rows and, within each row, its ranks
    ranks = (np.sort(row * vocabulary + rank[flat]) - row * vocabulary).astype(np.int32)
    starts = np.concatenate(([0], np.cumsum(sizes)))
    blocks: dict[int, _Block] = {}
    order = np.argsort(sizes, kind="stable")
    for size in np.unique(sizes):
        groups = order[sizes[order] == size]
        take = (starts[groups][:, None] + np.arange(size)).ravel()
        blocks[int(size)] = _Block(groups, ranks[take].reshape(len(groups), int(size)))
    return _Ranked(blocks, vocabulary)


def _size_pairs(sizes: Iterable[int]) -> Iterator[tuple[int, int]]:
    """(nx, ny) with nx ≥ ny and 2·ny > nx: the only sizes a similar pair can have."""
    present = sorted(sizes)
    for nx in present:
        for ny in present:
            if ny <= nx < 2 * ny:
                yield nx, ny


def _needed(nx: int, ny: int) -> tuple[int, int, int, int]:
    """(α, k, x prefix, y prefix) of a size pair."""
    alpha = (nx + ny) // 3 + 1
    hits = min(_HITS, alpha)
    return alpha, hits, nx - alpha + hits, ny - alpha + hits


def _candidates(
    x: _Block, y: _Block, nx: int, ny: int, vocabulary: int, rows: Ints | None, cols: Ints | None
) -> Iterator[tuple[Ints, Ints]]:
    """Local (row of x, row of y) pairs whose prefixes share ≥ k tokens, in batches.

    `rows` or `cols` (not both) restricts x's or y's rows to Q's groups, which then probe
    the other block whole; None: all pairs. For one block (nx == ny) and no restriction,
    each unordered pair comes once (row > col); with a restriction, every pair of distinct
    rows comes (the caller canonicalises and deduplicates).
    """
    _, hits, px, py = _needed(nx, ny)
    swapped = cols is not None  # y's rows probe x
    probe, probe_length, target, target_length = (y, py, x, px) if swapped else (x, px, y, py)
    probing = cols if cols is not None else rows
    if probing is None:
        probing = np.arange(probe.ranks.shape[0])
    targets = target.prefix(target_length, vocabulary)
    triangle = nx == ny and rows is None and cols is None
    for start, end in _chunks(probe.ranks[probing, :probe_length], targets):
        chunk = probing[start:end]
        against = targets[:end] if triangle else targets
        counts = (probe.prefix(probe_length, vocabulary, chunk) @ against.T).tocoo()
        keep = counts.data >= hits
        found, other = chunk[counts.row[keep]], counts.col[keep].astype(np.int64)
        r, c = (other, found) if swapped else (found, other)
        if nx == ny:
            keep = c < r if triangle else c != r
            r, c = r[keep], c[keep]
        yield r.astype(np.int64), c.astype(np.int64)


def _chunks(probes: npt.NDArray[np.int32], targets: sparse.csr_matrix) -> Iterator[tuple[int, int]]:
    """Row ranges of `probes` whose product with `targets` has at most `_PRODUCT_ENTRIES`
    entries: a row's entries are at most the sum of its tokens' counts among the targets,
    so memory stays bounded however skewed the names (a single heavier row goes alone)."""
    postings = np.bincount(targets.indices, minlength=targets.shape[1])
    work = np.cumsum(postings[probes].sum(axis=1, dtype=np.int64))
    start = 0
    while start < len(work):
        before = work[start - 1] if start else 0
        end = max(start + 1, int(np.searchsorted(work, before + _PRODUCT_ENTRIES, "right")))
        yield start, end
        start = end


def _overlaps(x: _Block, r: Ints, y: _Block, c: Ints) -> Ints:
    """|A∩B| of the row pairs (x.ranks[r], y.ranks[c]): sorted, duplicate-free rank rows,
    gathered and compared in batches of bounded size."""
    a, b = x.ranks, y.ranks
    out = np.empty(len(r), np.int64)
    step = max(1, _VERIFY_ELEMENTS // (a.shape[1] * b.shape[1]))
    for start in range(0, len(r), step):
        end = start + step
        equal = a[r[start:end], :, None] == b[c[start:end], None, :]
        out[start:end] = np.count_nonzero(equal.reshape(equal.shape[0], -1), axis=1)
    return out


@dataclass(slots=True)
class _Found:
    """Similar group pairs (global group numbers) and their overlaps and union sizes."""

    x: list[Ints]
    y: list[Ints]
    overlap: list[Ints]
    union: list[Ints]
    evaluated: int = 0
    evaluated_outside: int = 0


def _verify(
    found: _Found, x: _Block, y: _Block, r: Ints, c: Ints, focus: npt.NDArray[np.bool_] | None
) -> None:
    nx, ny = x.ranks.shape[1], y.ranks.shape[1]
    overlap = _overlaps(x, r, y, c)
    gx, gy = x.groups[r], y.groups[c]
    found.evaluated += len(r)
    if focus is not None:
        found.evaluated_outside += int(np.count_nonzero(~(focus[gx] | focus[gy])))
    similar = 3 * overlap > nx + ny
    found.x.append(gx[similar])
    found.y.append(gy[similar])
    found.overlap.append(overlap[similar])
    found.union.append(nx + ny - overlap[similar])


def _unique_pairs(r: Ints, c: Ints, same: bool) -> tuple[Ints, Ints]:
    """Pairs deduplicated (and for one block, ordered row > col)."""
    if same:
        r, c = np.maximum(r, c), np.minimum(r, c)
    if len(r) == 0:
        return r, c
    width = int(max(r.max(), c.max())) + 1
    code = np.unique(r * width + c)
    return code // width, code % width


def _join(ranked: _Ranked, focus: npt.NDArray[np.bool_] | None) -> _Found:
    found = _Found([], [], [], [])
    blocks, vocabulary = ranked.blocks, ranked.vocabulary
    for nx, ny in _size_pairs(blocks):
        x, y = blocks[nx], blocks[ny]
        if focus is None:
            for r, c in _candidates(x, y, nx, ny, vocabulary, None, None):
                _verify(found, x, y, r, c, None)
            continue
        in_x = np.flatnonzero(focus[x.groups])
        in_y = np.flatnonzero(focus[y.groups])
        # Q's groups as the larger side, then as the smaller (one block: once is enough)
        parts = [*(_candidates(x, y, nx, ny, vocabulary, in_x, None) if len(in_x) else ())]
        if nx != ny and len(in_y):
            parts += _candidates(x, y, nx, ny, vocabulary, None, in_y)
        if parts:
            r, c = _unique_pairs(
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                nx == ny,
            )
            _verify(found, x, y, r, c, focus)
    return found


def similar_pairs(
    names: NameSets, focus: set[int] | None = None
) -> tuple[dict[Pair, float], int, int]:
    """{(low, high): float4 similarity} of every contact pair above 0.5 (touching `focus`,
    if given), the number of group pairs verified and how many had no side in `focus`."""
    if not names.keys:
        return {}, 0, 0
    focus_groups: npt.NDArray[np.bool_] | None = None
    if focus is not None:
        focus_groups = _holding(names.members, focus)
        if not focus_groups.any():
            return {}, 0, 0
    found = _join(_rank(names.keys), focus_groups)
    return _expand(names, found, focus), found.evaluated, found.evaluated_outside


def _holding(members: Sequence[Sequence[int]], focus: set[int]) -> npt.NDArray[np.bool_]:
    """Per group: does it hold a contact of `focus`? (C-speed iteration, no Python loop.)"""
    sizes = np.fromiter(map(len, members), np.int64, len(members))
    flat = np.fromiter(chain.from_iterable(members), np.int64, int(sizes.sum()))
    hit = np.isin(flat, np.fromiter(focus, np.int64, len(focus)))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    return np.logical_or.reduceat(hit, starts)


def _expand(names: NameSets, found: _Found, focus: set[int] | None) -> dict[Pair, float]:
    """Contact pairs of the similar groups and within each group (similarity 1.0)."""
    pairs: dict[Pair, float] = {}
    members = names.members

    def add(a: int, b: int, similarity: float) -> None:
        if focus is None or a in focus or b in focus:
            pairs[(a, b) if a < b else (b, a)] = similarity

    for ids in members:
        if len(ids) > 1:
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    add(a, b, 1.0)
    if not found.x:
        return pairs
    similarity = (
        np.concatenate(found.overlap).astype(np.float32)
        / np.concatenate(found.union).astype(np.float32)
    ).tolist()  # float32 division, as pg_trgm's (float4) count / (float4) len
    for gx, gy, value in zip(
        np.concatenate(found.x).tolist(), np.concatenate(found.y).tolist(), similarity, strict=True
    ):
        for a in members[gx]:
            for b in members[gy]:
                add(a, b, value)
    return pairs
