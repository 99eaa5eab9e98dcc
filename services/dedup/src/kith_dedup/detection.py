"""Duplicate detection over one account's snapshot: the four signals and the score (dedup.md §3).

Pure computation: typed in (an `AccountSnapshot` read by `queries`), typed out (`FoundPair`s),
no database. Full and incremental runs share every line; an incremental run only restricts
which pairs are generated to those with a side in its focus set Q, so it finds exactly the
pairs a full run finds that touch Q.

Name pairs equal the brute-force `similarity(a, b) > 0.5` self-join without O(n²) work: the
trigram sets are PostgreSQL's own (`show_trgm`), similarity is computed as pg_trgm does
(float4 count / float4 union), and candidate pairs come from a prefix filter over trigrams
ordered rarest-first (§3.2), run as sparse matrix products (`kith_dedup.names`).
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Final

from kith_dedup.evidence import Profile
from kith_dedup.names import NameSets, similar_pairs

__all__ = [
    "BASES",
    "REASONS",
    "AccountSnapshot",
    "Detection",
    "FoundPair",
    "NameSets",
    "detect",
    "float4",
    "name_pairs",
    "score",
]

REASONS: Final = ("name_match", "email_match", "phone_match", "address_match")
BASES: Final[dict[str, Decimal]] = {
    "email_match": Decimal("0.85"),
    "phone_match": Decimal("0.75"),
    "address_match": Decimal("0.60"),
}
_BONUS: Final = Decimal("0.05")
_CENT: Final = Decimal("0.01")
_ONE: Final = Decimal(1)

Pair = tuple[int, int]


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The live contacts of one account as detection needs them.

    `names`: every live contact, grouped by its trigram set (`show_trgm(display_name)`).
    The key lists hold (contact id, key) of live contacts only, one entry per field or
    address row (duplicates allowed); rows whose key no other contact holds may be left out.
    """

    names: NameSets
    email_keys: Sequence[tuple[int, str]] = ()
    phone_keys: Sequence[tuple[int, str]] = ()
    address_keys: Sequence[tuple[int, str]] = ()
    # The focus set's name pairs when already found on the database's trigram index (a small
    # incremental run; `names` is then empty), and every live contact's comparable values
    # when the read had them (a full run), and the pairs already judged (a full run skips
    # them: it never rewrites their evidence).
    name_pairs: Mapping[Pair, float] | None = None
    profiles: Mapping[int, Profile] | None = None
    judged: frozenset[Pair] = frozenset()


@dataclass(frozen=True, slots=True)
class FoundPair:
    low: int
    high: int
    score: Decimal
    reasons: tuple[str, ...]
    similarity: float | None = None


@dataclass(slots=True)
class Detection:
    """The pairs of a run, and how much work produced them.

    `evaluated`: pairs whose trigram overlap or key equality was checked; `evaluated_outside`:
    those with no side in the focus set (always 0 for an incremental run, by construction;
    the acceptance test reads it).
    """

    pairs: dict[Pair, FoundPair] = field(default_factory=dict)
    evaluated: int = 0
    evaluated_outside: int = 0

    def by_signal(self) -> dict[str, int]:
        counts = dict.fromkeys(REASONS, 0)
        for pair in self.pairs.values():
            for reason in pair.reasons:
                counts[reason] += 1
        return counts


def float4(count: int, union: int) -> float:
    """pg_trgm's `(float4) count / (float4) union`, as a Python float.

    A float64 quotient rounded once more to float32 equals the correctly rounded float32
    quotient (53 ≥ 2·24 + 2 bits: double rounding is innocuous for division).
    """
    packed: float = struct.unpack("f", struct.pack("f", count / union))[0]
    return packed


def score(reasons: Iterable[str], similarity: float | None) -> Decimal:
    """`min(max(bases) + 0.05 × (signals − 1), 1)`, quantized 0.01 half-up (§3.3)."""
    return _score(tuple(reasons), similarity)


@lru_cache(maxsize=4096)
def _score(reasons: tuple[str, ...], similarity: float | None) -> Decimal:
    """Memoised: a run has few distinct (reasons, similarity) and 10⁵ pairs."""
    bases = [BASES[r] for r in reasons if r != "name_match"]
    signals = len(bases)
    if similarity is not None:
        bases.append(Decimal(similarity))  # exact value of the float, no repr rounding
        signals += 1
    raw = min(max(bases) + _BONUS * (signals - 1), _ONE)
    return raw.quantize(_CENT, rounding=ROUND_HALF_UP)


def name_pairs(
    names: NameSets, focus: Iterable[int] | None = None, detection: Detection | None = None
) -> dict[Pair, float]:
    """Every pair with pg_trgm similarity > 0.5, as {(low, high): float4 similarity}.

    With `focus`, only pairs with a side in it (the whole account is still read for the
    rarity order and as partners). See `kith_dedup.names` for how.
    """
    pairs, evaluated, outside = similar_pairs(names, set(focus) if focus is not None else None)
    if detection is not None:
        detection.evaluated += evaluated
        detection.evaluated_outside += outside
    return pairs


def _key_pairs(
    keys: Sequence[tuple[int, str]], focus: set[int] | None, detection: Detection
) -> set[Pair]:
    """Pairs of distinct contacts sharing a key (with a side in `focus`, if given)."""
    groups: defaultdict[str, set[int]] = defaultdict(set)
    for cid, key in keys:
        groups[key].add(cid)
    pairs: set[Pair] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        ordered = sorted(members)
        if focus is None:
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    pairs.add((a, b))
            detection.evaluated += len(ordered) * (len(ordered) - 1) // 2
            continue
        for q in members & focus:
            for other in ordered:
                if other != q:
                    pairs.add((q, other) if q < other else (other, q))
                    detection.evaluated += 1
    return pairs


def detect(snapshot: AccountSnapshot, focus: Iterable[int] | None = None) -> Detection:
    """All scored pairs of the snapshot (full), or those touching `focus` (incremental)."""
    detection = Detection()
    focus_set = set(focus) if focus is not None else None
    if snapshot.name_pairs is not None:
        names = dict(snapshot.name_pairs)
    else:
        names = name_pairs(snapshot.names, focus_set, detection)
    by_signal = {
        "email_match": _key_pairs(snapshot.email_keys, focus_set, detection),
        "phone_match": _key_pairs(snapshot.phone_keys, focus_set, detection),
        "address_match": _key_pairs(snapshot.address_keys, focus_set, detection),
    }
    every = set(names)
    for pairs in by_signal.values():
        every |= pairs
    for pair in every:
        reasons = tuple(
            r for r in REASONS if (pair in names if r == "name_match" else pair in by_signal[r])
        )
        similarity = names.get(pair)
        detection.pairs[pair] = FoundPair(
            pair[0], pair[1], score(reasons, similarity), reasons, similarity
        )
    return detection
