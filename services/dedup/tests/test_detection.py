"""Name pairs equal the brute-force similarity() self-join; scores as dedup.md §3.3 says."""

from __future__ import annotations

import random
import unicodedata
from decimal import Decimal

import pytest
from sqlalchemy import text

from kith_common.dedup.testing import Seeder
from kith_dedup.detection import AccountSnapshot, NameSets, detect, float4, name_pairs, score
from kith_dedup.queries import read_snapshot

FIRST = [
    "John",
    "María",
    "José",
    "Zoë",
    "Jürgen",
    "Søren",
    "Françoise",
    "Łukasz",
    "Ögün",
    "Straße",
    "Иван",
    "Мария",
    "Алексей",
    "Наталья",
    "王伟",
    "李娜",
    "张伟",
    "山田",
    "Γιώργος",
    "Ἀλέξανδρος",
    "Li",
    "Sam",
    "Ana",
    "Bo",
    "Mohammed",
    "Nguyễn",
    "O'Brien",
    "Anne-Marie",
    "D'Arcy",
    "SSeta",
]
LAST = [
    "Smith",
    "García",
    "Müller",
    "Strauß",
    "Strauss",
    "Иванов",
    "Петрова",
    "太郎",
    "花子",
    "Papadopoulos",
    "Na",
    "Ito",
    "Itoh",
    "Johnson",
    "Williams",
    "van der Berg",
    "MacLeod",
    "Ødegård",
    "Kowalski",
    "Nakamura",
    "Ng",
    "O",
    "Ferreira-Lima",
    "Schmidt",
    "Schmitt",
]
ODD = ["...", "--", "!?", "()", "   ", "a", "Zz", "x.y.z", "#1", "🙂🙂", "ß", "ǅ", "ﬁ"]


def _typo(name: str, rng: random.Random) -> str:
    if len(name) < 2:
        return name + "e"
    i = rng.randrange(len(name))
    op = rng.choice(("insert", "delete", "swap", "replace"))
    letters = "aeiounrstlß"
    if op == "insert":
        return name[:i] + rng.choice(letters) + name[i:]
    if op == "delete":
        return name[:i] + name[i + 1 :] or name
    if op == "swap" and i + 1 < len(name):
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    return name[:i] + rng.choice(letters) + name[i + 1 :]


def _strip_accents(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


def generated_names(count: int, seed: int = 3000) -> list[str]:
    """Typos, case, accents, ß, Cyrillic, CJK, punctuation-only, one-word, long, identical."""
    rng = random.Random(seed)
    names: list[str] = []
    while len(names) < count:
        base = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        roll = rng.random()
        if roll < 0.05:
            names.append(rng.choice(ODD))
        elif roll < 0.10:
            names.append(rng.choice(FIRST))  # one word
        elif roll < 0.12:
            names.append(" ".join(rng.choice(LAST) for _ in range(rng.randint(12, 30))))
        else:
            names.append(base)
            variant = rng.random()
            if variant < 0.3:
                names.append(_typo(base, rng))
            elif variant < 0.4:
                names.append(base.upper() if rng.random() < 0.5 else base.lower())
            elif variant < 0.5:
                names.append(_strip_accents(base))
            elif variant < 0.55:
                names.append(base)  # identical
    return names[:count]


@pytest.mark.slow
async def test_name_pairs_equal_brute_force_similarity_on_3000_names(seed: Seeder) -> None:
    names = generated_names(3000)
    async with seed.session.begin():
        await seed.many_named(names)
    async with seed.session.begin():
        snapshot = await read_snapshot(seed.session, seed.account_id)
        await seed.session.execute(text("SET LOCAL pg_trgm.similarity_threshold = 0.5"))
        # `%` is similarity() against the threshold, served by the GIN index; the explicit
        # strict comparison makes the predicate exactly the spec's.
        rows = await seed.session.execute(
            text(
                "SELECT a.id, b.id, similarity(a.display_name, b.display_name)"
                " FROM contacts a JOIN contacts b"
                "   ON b.account_id = a.account_id AND a.id < b.id"
                "  AND a.display_name % b.display_name"
                " WHERE a.account_id = :account"
                "   AND similarity(a.display_name, b.display_name) > 0.5"
            ),
            {"account": seed.account_id},
        )
        brute = {(int(a), int(b)): float(s) for a, b, s in rows}
    ours = name_pairs(snapshot.names)
    assert len(brute) > 1000
    assert ours == brute


def test_score_is_max_signal_plus_bonus_rounded_half_up() -> None:
    assert score(["name_match"], float4(5, 8)) == Decimal("0.63")  # 0.625, not round()'s 0.62
    assert score(["name_match", "address_match"], float4(5, 8)) == Decimal("0.68")
    assert score(["name_match"], float4(7, 10)) == Decimal("0.70")
    assert score(["email_match"], None) == Decimal("0.85")
    assert score(["email_match", "phone_match", "address_match"], None) == Decimal("0.95")
    assert score(["name_match", "email_match", "phone_match", "address_match"], 0.99) == 1


def test_incremental_detection_finds_only_pairs_touching_the_focus() -> None:
    snapshot = AccountSnapshot(
        names=NameSets.of(
            {1: ["  a", " ab", "ab "], 2: ["  a", " ab", "ab "], 3: ["  z", " zz", "zz "]}
        ),
        email_keys=[(1, "e"), (3, "e"), (2, "f")],
        phone_keys=[(2, "p"), (3, "p")],
    )
    full = detect(snapshot)
    incremental = detect(snapshot, focus=[3])
    assert set(full.pairs) == {(1, 2), (1, 3), (2, 3)}
    assert incremental.pairs == {k: v for k, v in full.pairs.items() if 3 in k}
    assert incremental.evaluated_outside == 0
