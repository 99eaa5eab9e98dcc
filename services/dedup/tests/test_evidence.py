"""The evidence model: what makes a pair more or less likely one person (issue 18)."""

from __future__ import annotations

import json

from kith_dedup.evidence import AccountStats, Profile, judge, judge_pairs, name_level, stats_of


def _stats(profiles: dict[int, Profile], contacts: int = 10_000) -> AccountStats:
    counted = stats_of(profiles)
    return AccountStats(
        contacts,
        counted.names,
        counted.emails,
        counted.phones,
        counted.addresses,
        counted.birthdays,
        counted.companies,
    )


def test_rare_agreement_counts_more_than_common_and_disagreement_counts_against() -> None:
    common = {i: Profile("maria garcia") for i in range(40)}
    rare = {100: Profile("zoë johansson"), 101: Profile("zoë johansson")}
    stats = _stats({**common, **rare})
    maria = judge(common[0], common[1], stats, "exact")
    zoe = judge(rare[100], rare[101], stats, "exact")
    assert zoe.confidence > maria.confidence
    two_emails = judge(
        Profile("zoë johansson", emails=frozenset({"z@a.se"})),
        Profile("zoë johansson", emails=frozenset({"zoe@b.se"})),
        stats,
        "exact",
    )
    assert two_emails.confidence < zoe.confidence  # disagreeing emails count against
    evidence = json.loads(two_emails.evidence)
    assert evidence["email"]["outcome"] == "disagree"
    assert evidence["email"]["weight"] < 0
    assert evidence["phone"] == {"outcome": "missing", "level": "missing", "weight": 0.0}
    assert evidence["name"]["outcome"] == "agree"
    assert evidence["name"]["weight"] > 0


def test_a_family_sharing_address_and_landline_ranks_below_a_typo_duplicate() -> None:
    home, landline = "1 elm st\x1f90210", "+12025550100"
    mum = Profile("anna berg", frozenset({"anna@x.se"}), frozenset({landline}), frozenset({home}))
    son = Profile("erik berg", frozenset({"erik@y.se"}), frozenset({landline}), frozenset({home}))
    typo_a, typo_b = Profile("jonathan whitfield"), Profile("jonathan whitfeld")
    profiles = {1: mum, 2: son, 3: typo_a, 4: typo_b}
    judged, _ = judge_pairs([((1, 2), False), ((3, 4), True)], profiles, _stats(profiles))
    assert name_level(typo_a.name, typo_b.name) == "close"
    assert judged[(3, 4)].confidence > judged[(1, 2)].confidence
    family = json.loads(judged[(1, 2)].evidence)
    assert family["name"]["level"] == "different"
    assert family["phone"]["outcome"] == "agree"
    assert family["phone"]["weight"] < family["address"]["weight"]  # landline adds ~nothing


def test_a_shared_email_outweighs_a_shared_common_name() -> None:
    profiles = {
        1: Profile("kim lee", emails=frozenset({"k.lee@corp.example"})),
        2: Profile("kimberly lee-park", emails=frozenset({"k.lee@corp.example"})),
        **{10 + i: Profile("maria garcia") for i in range(40)},
    }
    judged, _ = judge_pairs([((1, 2), False), ((10, 11), True)], profiles, _stats(profiles))
    assert judged[(1, 2)].confidence > judged[(10, 11)].confidence


def test_a_shared_email_under_another_name_outweighs_a_bare_shared_name() -> None:
    """Full names collide between people far more often than emails (the fields' agreement
    rates), even when the account holds the name only twice."""
    profiles = {
        1: Profile("jo march", emails=frozenset({"jo@march.example"})),
        2: Profile("josephine march-bhaer", emails=frozenset({"jo@march.example"})),
        3: Profile("amy laurence"),
        4: Profile("amy laurence"),
    }
    judged, rates = judge_pairs([((1, 2), False), ((3, 4), True)], profiles, _stats(profiles))
    assert judged[(1, 2)].confidence > judged[(3, 4)].confidence
    assert rates["email:agree"] < rates["name:exact"]


def test_a_typo_is_diluted_by_names_a_typo_away_not_by_names_that_merely_look_alike() -> None:
    """A typo'd pair's u counts the names close to it; a crowd of only similar names (other
    people sharing a first name) says nothing about how often strangers are one typo apart."""
    typo = {1: Profile("jonathan whitfield"), 2: Profile("jonathan whitfeld")}
    similar = {10 + i: Profile(f"jonathan whitfield-{chr(97 + i)}{chr(98 + i)}") for i in range(30)}
    close = {100 + i: Profile(f"jonathan whitfield{chr(97 + i % 26)}") for i in range(30)}

    def confidence(crowd: dict[int, Profile]) -> float:
        profiles = {**typo, **crowd}
        pairs = [((1, 2), True), *(((1, k), True) for k in crowd)]
        for k in crowd:
            assert name_level(typo[1].name, crowd[k].name) in ("close", "similar")
        judged, _ = judge_pairs(pairs, profiles, _stats(profiles))
        return judged[(1, 2)].confidence

    alone = confidence({})
    assert confidence(similar) == alone
    assert confidence(close) < alone
