"""How sure a candidate pair is one person: Fellegi–Sunter match weights (issue 18).

Detection (`kith_dedup.detection`) decides *which* pairs are candidates, with the seed's
score; this module decides *how sure* each one is, so the review list can put the likely
duplicates first. Each candidate's two contacts are compared field by field — name, email,
phone, address, birthday, company — and every comparison lands on one level:
agree (possibly "close" or "similar" for names), disagree, or missing (a side has no value).

A level's weight is the log-likelihood ratio log2(m / u):

- m = P(level | the two are one person): priors below (`M_PRIORS`), chosen for how
  duplicates arise in a contact book (typed twice, imported from two sources).
- u = P(level | two different people): measured on the account itself. Agreeing on a value
  counts as much as the value is rare: u = (holders − 1) / (contacts − 1), so a shared
  "Maria Garcia" held by 40 contacts is weak evidence and a shared "Zoë Johansson" strong
  (term-frequency adjustment, as Splink does it). The name's close and similar levels are
  adjusted the same way by the crowd around the name at that level: u = (name candidates at
  the pair's level of the more crowded side) / (contacts − 1), so "Maria Garcia" with 30
  typo-close look-alikes weighs less than a name whose only close look-alike is this one.
- missing weighs 0; disagreement counts against the pair (m small, u ≈ 1).

A phone shared by two contacts at one address (a family's landline) says little beyond the
address: given an agreeing address, a phone agreement's u is `LANDLINE_GIVEN_ADDRESS`
rather than the number's frequency (the two fields are not independent there).

confidence = 2^W / (1 + 2^W) with W = prior log-odds + Σ weights: the posterior that the
pair is one person, assuming one contact in twenty has a duplicate (`PRIOR_DUPLICATE_SHARE`).
Pure computation: profiles and counts in, judgements out; the reads are in `queries`.

Why our own ~150 lines and not Splink: Splink estimates and scores in batch over a whole
table through DuckDB/Spark, while dedup must score one edited contact in milliseconds, over
pairs it has already found, with counts it reads from PostgreSQL; the model itself is a sum
of logarithms. rapidfuzz provides the string distance.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from rapidfuzz.distance import OSA

__all__ = [
    "DEFAULT_RATES",
    "FIELDS",
    "LANDLINE_GIVEN_ADDRESS",
    "MIN_POPULATION",
    "M_PRIORS",
    "PRIOR_DUPLICATE_SHARE",
    "AccountStats",
    "Judgement",
    "Model",
    "Profile",
    "agreement_rates",
    "birthday_key",
    "compare",
    "judge",
    "judge_pairs",
    "name_level",
    "stats_of",
    "weigh",
]

Pair = tuple[int, int]

FIELDS: Final = ("name", "email", "phone", "address", "birthday", "company")

# m-probabilities, given both contacts have the field. A duplicate usually keeps the name
# (typed again, perhaps with a typo or in another case), one time in ten is filed under
# another name (a nickname, initials, "Mum"), and often keeps at least one email or number.
M_PRIORS: Final[Mapping[str, Mapping[str, float]]] = {
    "name": {"exact": 0.65, "close": 0.15, "similar": 0.10, "different": 0.10},
    "email": {"agree": 0.80, "disagree": 0.20},
    "phone": {"agree": 0.80, "disagree": 0.20},
    "address": {"agree": 0.80, "disagree": 0.20},
    "birthday": {"agree": 0.95, "disagree": 0.05},
    "company": {"agree": 0.65, "disagree": 0.35},
}
# Two people at one address mostly share its landline: given an agreeing address, a phone
# agreement is nearly as likely for a family as for one person counted twice.
LANDLINE_GIVEN_ADDRESS: Final = 0.8
PRIOR_DUPLICATE_SHARE: Final = 0.05
# Agreement levels whose rate (other contacts a contact agrees with on average, `AGREEING`)
# floors u, and the rates used until an account's first full scan counted its own (as
# measured on the benchmark's 100,000-contact account: full names collide far more often
# than emails).
DEFAULT_RATES: Final[Mapping[str, float]] = {
    "name:exact": 1.0,
    "name:close": 0.3,
    "name:similar": 1.0,
    "email:agree": 0.04,
    "phone:agree": 0.2,
    "address:agree": 0.15,
}
_NO_OTHER_HOLDER: Final = 0.05
# Frequencies in an account of a few contacts say little about the people at large: the
# model counts an account as at least this big (a 2-contact account's shared email is as
# strong as a 1,000-contact account's).
MIN_POPULATION: Final = 1000
_FLOOR: Final = 1e-12
_MAX_WEIGHT: Final = 60.0


@dataclass(frozen=True, slots=True)
class Profile:
    """One contact's comparable values, already normalised (lower-cased, keys)."""

    name: str
    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()
    addresses: frozenset[str] = frozenset()
    birthday: str | None = None
    company: str | None = None


@dataclass(frozen=True, slots=True)
class AccountStats:
    """Term frequencies of the account's live contacts: how many hold each value."""

    contacts: int
    names: Mapping[str, int] = field(default_factory=dict)
    emails: Mapping[str, int] = field(default_factory=dict)
    phones: Mapping[str, int] = field(default_factory=dict)
    addresses: Mapping[str, int] = field(default_factory=dict)
    birthdays: Mapping[str, int] = field(default_factory=dict)
    companies: Mapping[str, int] = field(default_factory=dict)
    rates: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))


@dataclass(frozen=True, slots=True)
class Judgement:
    """A pair's confidence (0–1) and its evidence as stored JSON text."""

    confidence: float
    weight: float
    evidence: str


def stats_of(profiles: Mapping[int, Profile]) -> AccountStats:
    """Term frequencies counted over the given profiles (a full run: every live contact)."""
    names: Counter[str] = Counter()
    emails: Counter[str] = Counter()
    phones: Counter[str] = Counter()
    addresses: Counter[str] = Counter()
    birthdays: Counter[str] = Counter()
    companies: Counter[str] = Counter()
    for p in profiles.values():
        names[p.name] += 1
        emails.update(p.emails)
        phones.update(p.phones)
        addresses.update(p.addresses)
        if p.birthday is not None:
            birthdays[p.birthday] += 1
        if p.company is not None:
            companies[p.company] += 1
    return AccountStats(
        len(profiles),
        names,
        emails,
        phones,
        addresses,
        birthdays,
        companies,
    )


def name_level(a: str, b: str) -> Literal["exact", "close", "similar"]:
    """exact (same lower-cased name), close (same words reordered, or a typo), else similar.

    A typo is an optimal-string-alignment distance of 1, or 2 for names of 8+ characters.
    Pairs that are not name candidates at all are "different" (decided by the caller).
    """
    if a == b:
        return "exact"
    if sorted(a.split()) == sorted(b.split()):
        return "close"
    allowed = 2 if min(len(a), len(b)) >= 8 else 1
    if OSA.distance(a, b, score_cutoff=allowed) <= allowed:
        return "close"
    return "similar"


def _population(contacts: int) -> int:
    """The account's size as the model counts it: at least `MIN_POPULATION`."""
    return max(contacts, MIN_POPULATION)


def _share(holders: int, contacts: int) -> float:
    """u of agreeing on a value `holders` contacts hold, the pair's two included.

    The pair itself is no evidence that different people share the value: u counts the
    other holders, (holders − 2) / (contacts − 1), and a twentieth of one when there is
    none. `weigh` then raises it to the field's own agreement rate (`AGREEING`): a value
    rarer than the field's average counts as the average, as no field's values are rarer
    than two random contacts agreeing on it at all.
    """
    return max(holders - 2, _NO_OTHER_HOLDER) / (_population(contacts) - 1)


def agreement_rates(compared: Iterable[tuple[Compared, ...]], contacts: int) -> dict[str, float]:
    """Per `AGREEING` level, how many other contacts a contact agrees with on average.

    Counted on a full run's candidates, which hold every pair agreeing on a key or with
    similar names: rate = 2 × pairs at the level / contacts.
    """
    counts: Counter[str] = Counter()
    for c in compared:
        for f, (level, _) in zip(FIELDS, c, strict=True):
            if f"{f}:{level}" in DEFAULT_RATES:
                counts[f"{f}:{level}"] += 1
    population = _population(contacts)
    return {key: 2 * counts[key] / population for key in DEFAULT_RATES}


# A comparison of one field: (level, u), level "missing" when a side has no value.
Compared = tuple[str, float]
_MISSING: Final[Compared] = ("missing", 1.0)


def _sets(a: frozenset[str], b: frozenset[str], counts: Mapping[str, int], n: int) -> Compared:
    if not a or not b:
        return _MISSING
    shared = a & b
    if shared:
        return "agree", _share(min(counts.get(v, 2) for v in shared), n)
    return "disagree", 1.0


def _values(a: str | None, b: str | None, counts: Mapping[str, int], n: int) -> Compared:
    if a is None or b is None:
        return _MISSING
    if a == b:
        return "agree", _share(counts.get(a, 2), n)
    return "disagree", 1.0


def compare(
    a: Profile, b: Profile, stats: AccountStats, name: str | None, crowd: int = 1
) -> tuple[Compared, ...]:
    """The pair's level and u on each of `FIELDS`, in that order.

    `name`: the pair's name level (`name_level`), None when the names are not similar;
    `crowd`: name candidates at that level of the side that has more of them (at least this
    pair).
    """
    n = stats.contacts
    if not a.name or not b.name:
        name_cmp = _MISSING
    elif name == "exact":
        name_cmp = ("exact", _share(stats.names.get(a.name, 2), n))
    elif name is not None:
        name_cmp = (name, _share(crowd + 1, n))
    else:
        name_cmp = ("different", 1.0)
    address = _sets(a.addresses, b.addresses, stats.addresses, n)
    phone = _sets(a.phones, b.phones, stats.phones, n)
    if address[0] == "agree" and phone[0] == "agree":
        phone = ("agree", max(phone[1], LANDLINE_GIVEN_ADDRESS))
    return (
        name_cmp,
        _sets(a.emails, b.emails, stats.emails, n),
        phone,
        address,
        _values(a.birthday, b.birthday, stats.birthdays, n),
        _values(a.company, b.company, stats.companies, n),
    )


@dataclass(frozen=True, slots=True)
class Model:
    """m-probabilities per field and level, and the prior log2-odds of two random contacts."""

    m: Mapping[str, Mapping[str, float]]
    prior: float

    @classmethod
    def default(cls, contacts: int) -> Model:
        """The priors: one contact in twenty has a duplicate, anywhere in the account."""
        return cls(M_PRIORS, math.log2(PRIOR_DUPLICATE_SHARE / (_population(contacts) - 1)))


def _weight(m: float, u: float) -> float:
    return max(-_MAX_WEIGHT, min(_MAX_WEIGHT, math.log2(max(m, _FLOOR) / max(u, _FLOOR))))


def weigh(
    compared: tuple[Compared, ...], model: Model, floors: Mapping[str, float] | None = None
) -> Judgement:
    """The pair's confidence and evidence under `model`; `floors`: u at least this, by
    `field:level` (the field's agreement rate, see `_share`)."""
    total = model.prior
    parts = []
    for f, (level, u) in zip(FIELDS, compared, strict=True):
        if level == "missing":
            outcome, w = "missing", 0.0
        else:
            outcome = "disagree" if level in ("disagree", "different") else "agree"
            floor = floors.get(f"{f}:{level}", 0.0) if floors else 0.0
            w = _weight(model.m[f][level], max(u, floor))
        total += w
        parts.append(f'"{f}":{{"outcome":"{outcome}","level":"{level}","weight":{w:.2f}}}')
    confidence = 1.0 / (1.0 + 2.0 ** min(-total, 1000.0))
    return Judgement(confidence, total, "{" + ",".join(parts) + "}")


def judge(
    a: Profile, b: Profile, stats: AccountStats, name: str | None, crowd: int = 1
) -> Judgement:
    """Compare two contacts and weigh the evidence with the prior model."""
    return weigh(compare(a, b, stats, name, crowd), Model.default(stats.contacts), _floors(stats))


def _floors(stats: AccountStats) -> dict[str, float]:
    population = _population(stats.contacts)
    return {key: rate / (population - 1) for key, rate in stats.rates.items()}


def judge_pairs(
    pairs: Iterable[tuple[Pair, bool]],
    profiles: Mapping[int, Profile],
    stats: AccountStats,
    *,
    skip: Collection[Pair] = (),
    count_rates: bool = False,
) -> tuple[dict[Pair, Judgement], dict[str, float]]:
    """Judge every (pair, is-a-name-candidate) whose two profiles are known, but `skip`.

    A contact's crowd at a name level is its name candidates at that level among `pairs`
    (skipped ones included): a typo's u counts the names one typo away, not every name that
    merely looks similar (at 100,000 contacts a name has far more similar names than close
    ones, so the wider count made typo'd duplicates look as common as strangers). All of them
    in a full run; in an incremental run, exact for the focus contacts and a lower bound for
    their partners. `count_rates` (a first full run: `pairs` are all the account's
    candidates): the agreement rates are counted on them instead of taken from `stats`.
    Returns the judgements and the rates used.
    """
    levels: dict[Pair, str | None] = {}
    crowd: Counter[tuple[int, str]] = Counter()
    for pair, name_candidate in pairs:
        a, b = profiles.get(pair[0]), profiles.get(pair[1])
        if a is None or b is None:
            continue
        same = a.name == b.name and bool(a.name)
        level = levels[pair] = name_level(a.name, b.name) if name_candidate or same else None
        if level is not None:
            crowd[pair[0], level] += 1
            crowd[pair[1], level] += 1
    compared: dict[Pair, tuple[Compared, ...]] = {}
    for pair, level_found in levels.items():
        if pair in skip:
            continue
        look_alikes = (
            max(crowd[pair[0], level_found], crowd[pair[1], level_found], 1) if level_found else 1
        )
        compared[pair] = compare(
            profiles[pair[0]], profiles[pair[1]], stats, level_found, look_alikes
        )
    if count_rates:
        stats = replace(stats, rates=agreement_rates(compared.values(), stats.contacts))
    model, floors = Model.default(stats.contacts), _floors(stats)
    # Pairs share few distinct comparisons (levels and term frequencies repeat): weigh and
    # format each once (a 10^5-pair run: ~5× fewer weighings).
    weighed: dict[tuple[Compared, ...], Judgement] = {}
    judged: dict[Pair, Judgement] = {}
    for pair, c in compared.items():
        found = weighed.get(c)
        if found is None:
            found = weighed[c] = weigh(c, model, floors)
        judged[pair] = found
    return judged, dict(stats.rates)


def birthday_key(birthdate: dt.date | None, year_unknown: bool) -> str | None:
    """A birthday as compared: month and day only when the year is unknown."""
    if birthdate is None:
        return None
    return birthdate.strftime("--%m-%d") if year_unknown else birthdate.isoformat()
