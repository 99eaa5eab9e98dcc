"""Detection acceptance behaviours (dedup.md §7 "Detection") against real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any

from sqlalchemy import update

from kith_common.db.models import Contact, DuplicateCandidate
from kith_common.dedup.testing import Seeder, new_account
from kith_common.errors import StaleGeneration


async def pairs(candidates: Any, account_id: int, status: str | None = "pending") -> list[Any]:
    return [
        (c.contact_id, c.duplicate_contact_id, list(c.reasons), c.score)
        for c in await candidates(account_id, status)
    ]


async def test_similar_names_make_one_pending_pair(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        a = await seed.named("John Smith")
        b = await seed.named("John Smithe")
        await seed.named("Alice Johnson")
        await seed.named("Bob Williams")
    await scan(seed.account_id)
    assert await pairs(candidates, seed.account_id) == [(a, b, ["name_match"], Decimal("0.77"))]


async def test_shared_email_is_an_email_match(seed: Seeder, scan: Any, candidates: Any) -> None:
    async with seed.session.begin():
        a = await seed.named("Xavier Quinn")
        b = await seed.named("Mona Delacroix")
        await seed.field(a, "Email", "shared@example.com")
        await seed.field(b, "Email", "shared@example.com")
    await scan(seed.account_id)
    assert await pairs(candidates, seed.account_id) == [(a, b, ["email_match"], Decimal("0.85"))]


async def test_email_case_and_spaces_still_match(seed: Seeder, scan: Any, candidates: Any) -> None:
    async with seed.session.begin():
        ids = [await seed.named(n) for n in ("Ann Zed", "Kofi Brun", "Uma Vos", "Lee Park")]
        await seed.field(ids[0], "Email", "SHARED@Example.COM")
        await seed.field(ids[1], "Email", "shared@example.com")
        await seed.field(ids[2], "Email", "  Foo@BAR.com  ")
        await seed.field(ids[3], "Email", "foo@bar.com")
    await scan(seed.account_id)
    found = await pairs(candidates, seed.account_id)
    assert [(a, b, r) for a, b, r, _ in found] == [
        (ids[0], ids[1], ["email_match"]),
        (ids[2], ids[3], ["email_match"]),
    ]


async def test_email_twice_on_one_contact_or_on_a_non_mailto_type_is_no_pair(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        a = await seed.named("Ann Zed")
        b = await seed.named("Kofi Brun")
        await seed.field(a, "Email", "me@example.com")
        await seed.field(a, "Email", "ME@example.com")
        await seed.field(b, "Website", "me@example.com")
    await scan(seed.account_id)
    assert await pairs(candidates, seed.account_id) == []


async def test_same_valid_phone_in_two_layouts_is_a_phone_match(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        a = await seed.named("Ann Zed")
        b = await seed.named("Kofi Brun")
        await seed.field(a, "Phone", "+1 202 555 0100")
        await seed.field(b, "Mobile", "+12025550100")
    await scan(seed.account_id)
    assert await pairs(candidates, seed.account_id) == [(a, b, ["phone_match"], Decimal("0.75"))]


async def test_invalid_and_garbage_phones_never_match(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    names = [
        "Ann Zed",
        "Kofi Brun",
        "Uma Vos",
        "Lee Park",
        "Ivo Hart",
        "Oda Mae",
        "Sid Ray",
        "Tom Ngo",
        "Eve Cruz",
        "Raj Tal",
        "Bo Lind",
        "Cy Onu",
    ]
    async with seed.session.begin():
        ids = [await seed.named(n) for n in names]
        values = ["+1-555-1234", "+1-555-1234", "+", "-", "()", "abc", "N/A", "x", "N/A", "+"]
        for cid, value in zip(ids, values, strict=False):
            await seed.field(cid, "Phone", value)
        # bare numbers without a region are never guessed
        await seed.field(ids[10], "Phone", "5559876", region=None)
        await seed.field(ids[11], "Phone", "5559876", region=None)
    await scan(seed.account_id)
    assert await pairs(candidates, seed.account_id) == []


async def test_bare_number_typed_in_an_en_account_matches(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        a = await seed.named("Ann Zed")
        b = await seed.named("Kofi Brun")
        await seed.field(a, "Phone", "2025550100")
        await seed.field(b, "Phone", "2025550100")
    await scan(seed.account_id)
    assert await pairs(candidates, seed.account_id) == [(a, b, ["phone_match"], Decimal("0.75"))]


async def test_number_on_a_tel_and_a_non_tel_field_is_no_pair(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        a = await seed.named("Ann Zed")
        b = await seed.named("Kofi Brun")
        await seed.field(a, "Phone", "+12025550100")
        await seed.field(b, "Website", "+12025550100")
    await scan(seed.account_id)
    assert await pairs(candidates, seed.account_id) == []


async def test_addresses_match_on_folded_line1_and_postal_code(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        ids = [await seed.named(n) for n in ("Ann Zed", "Kofi Brun", "Uma Vos", "Lee Park")]
        await seed.address(ids[0], "  123 Main St  ", "90210")
        await seed.address(ids[1], "123  MAIN   st", "90210")
        await seed.address(ids[2], "9 Other Rd", "90210")  # same postal, other street
        await seed.address(ids[3], "   ", "90210")
    await scan(seed.account_id)
    assert await pairs(candidates, seed.account_id) == [
        (ids[0], ids[1], ["address_match"], Decimal("0.60"))
    ]


async def test_blank_line1_on_both_is_no_address_match(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        a = await seed.named("Ann Zed")
        b = await seed.named("Kofi Brun")
        await seed.address(a, "   ", "90210")
        await seed.address(b, "   ", "90210")
    await scan(seed.account_id)
    assert await pairs(candidates, seed.account_id) == []


async def test_signal_combinations_add_the_bonus(seed: Seeder, scan: Any, candidates: Any) -> None:
    async with seed.session.begin():
        # name + email
        n1, n2 = await seed.named("John Smith"), await seed.named("John Smithe")
        await seed.field(n1, "Email", "js@example.com")
        await seed.field(n2, "Email", "js@example.com")
        # email + phone
        e1, e2 = await seed.named("Aaa Bbb"), await seed.named("Ccc Ddd")
        for cid in (e1, e2):
            await seed.field(cid, "Email", "ep@example.com")
            await seed.field(cid, "Phone", "+12025550101")
        # email + phone + address
        t1, t2 = await seed.named("Eee Fff"), await seed.named("Ggg Hhh")
        for cid in (t1, t2):
            await seed.field(cid, "Email", "epa@example.com")
            await seed.field(cid, "Phone", "+12025550102")
            await seed.address(cid, "1 Elm St", "10001")
        # all four
        f1, f2 = await seed.named("Jane Doe"), await seed.named("Jane Doee")
        for cid in (f1, f2):
            await seed.field(cid, "Email", "all@example.com")
            await seed.field(cid, "Phone", "+12025550103")
            await seed.address(cid, "2 Elm St", "10001")
        # phone + address
        p1, p2 = await seed.named("Iii Jjj"), await seed.named("Kkk Lll")
        for cid in (p1, p2):
            await seed.field(cid, "Phone", "+12025550104")
            await seed.address(cid, "3 Elm St", "10001")
    await scan(seed.account_id)
    found = {(a, b): (r, s) for a, b, r, s in await pairs(candidates, seed.account_id)}
    assert found == {
        (n1, n2): (["name_match", "email_match"], Decimal("0.90")),
        (e1, e2): (["email_match", "phone_match"], Decimal("0.90")),
        (t1, t2): (["email_match", "phone_match", "address_match"], Decimal("0.95")),
        (f1, f2): (["name_match", "email_match", "phone_match", "address_match"], Decimal("1.00")),
        (p1, p2): (["phone_match", "address_match"], Decimal("0.80")),
    }


async def test_scores_round_half_up_from_float4_similarity(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        li, lin = await seed.named("Li Na"), await seed.named("Li Nan")
        wu, wun = await seed.named("Wu Ba"), await seed.named("Wu Bat")
        await seed.address(wu, "5 Oak St", "20002")
        await seed.address(wun, "5 Oak St", "20002")
        sam, samh = await seed.named("Sam Ito"), await seed.named("Sam Itoh")
    await scan(seed.account_id)
    found = {(a, b): (r, s) for a, b, r, s in await pairs(candidates, seed.account_id)}
    assert found[(li, lin)] == (["name_match"], Decimal("0.63"))
    assert found[(wu, wun)] == (["name_match", "address_match"], Decimal("0.68"))
    assert found[(sam, samh)] == (["name_match"], Decimal("0.70"))


async def test_soft_deleted_contact_is_never_paired(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        a = await seed.named("Ann Zed")
        b = await seed.named("Kofi Brun", deleted_at=None)
        await seed.named("Uma Vos")
        await seed.field(a, "Email", "s@example.com")
        await seed.field(b, "Email", "s@example.com")
        await seed.session.execute(
            update(Contact).where(Contact.id == b).values(deleted_at=Contact.created_at)
        )
    await scan(seed.account_id)
    assert await pairs(candidates, seed.account_id, None) == []


async def test_reruns_keep_one_row_and_respect_dismissal_and_merge(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        a, b = await seed.named("John Smith"), await seed.named("John Smithe")
        c, d = await seed.named("Jane Doe"), await seed.named("Jane Doee")
    await scan(seed.account_id)
    await scan(seed.account_id)
    rows = await candidates(seed.account_id)
    assert len(rows) == 2
    async with seed.session.begin():
        await seed.session.execute(
            update(DuplicateCandidate)
            .where(DuplicateCandidate.contact_id == a)
            .values(status="dismissed")
        )
        await seed.session.execute(
            update(DuplicateCandidate)
            .where(DuplicateCandidate.contact_id == c)
            .values(status="merged")
        )
    result = await scan(seed.account_id)
    assert await pairs(candidates, seed.account_id) == []
    statuses = [(r.contact_id, r.status) for r in await candidates(seed.account_id, None)]
    assert statuses == [(a, "dismissed"), (c, "merged")]
    assert result.new_candidates == 0
    assert b != d


async def test_a_run_never_crosses_accounts(seed: Seeder, scan: Any, candidates: Any) -> None:
    async with seed.session.begin():
        other = await new_account(seed.session)
        a = await seed.named("John Smith")
        b = await other.named("John Smith")
        for s, cid in ((seed, a), (other, b)):
            await s.field(cid, "Email", "x@example.com")
            await s.field(cid, "Phone", "+12025550100")
            await s.address(cid, "1 Elm St", "10001")
        await other.named("John Smithe")
    await scan(seed.account_id)
    assert await pairs(candidates, seed.account_id, None) == []
    assert await pairs(candidates, other.account_id, None) == []


async def test_zero_or_one_contact_gives_zero_counts(seed: Seeder, scan: Any) -> None:
    empty = await scan(seed.account_id)
    async with seed.session.begin():
        await seed.named("Solo Person")
    single = await scan(seed.account_id)
    for result in (empty, single):
        assert (result.pairs_found, result.new_candidates, result.obsoleted) == (0, 0, 0)
    assert single.contacts_considered == 1


async def test_eight_hundred_name_pairs_are_all_stored(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        rng = random.Random(800)
        letters = "abcdefghijklmnopqrstuvwxyz"
        stems = [
            "".join(rng.choices(letters, k=9)) + " " + "".join(rng.choices(letters, k=9))
            for _ in range(800)
        ]
        await seed.many_named([s for stem in stems for s in (stem, stem + "k")])
    result = await scan(seed.account_id)
    assert result.pairs_found == 800
    assert len(await candidates(seed.account_id)) == 800


async def test_trashed_side_is_obsoleted_and_restoring_reopens(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        a, b = await seed.named("John Smith"), await seed.named("John Smithe")
    await scan(seed.account_id)
    async with seed.session.begin():
        await seed.session.execute(
            update(Contact).where(Contact.id == b).values(deleted_at=Contact.created_at)
        )
    second = await scan(seed.account_id)
    assert second.obsoleted == 1
    assert await pairs(candidates, seed.account_id, "obsolete") != []
    async with seed.session.begin():
        await seed.session.execute(update(Contact).where(Contact.id == b).values(deleted_at=None))
    third = await scan(seed.account_id)
    assert third.reopened == 1
    assert await pairs(candidates, seed.account_id) == [(a, b, ["name_match"], Decimal("0.77"))]


async def test_pair_no_longer_matching_after_an_edit_is_obsoleted(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        a, b = await seed.named("John Smith"), await seed.named("John Smithe")
    await scan(seed.account_id)
    async with seed.session.begin():
        await seed.session.execute(
            update(Contact).where(Contact.id == b).values(display_name="Zebulon Quartz")
        )
    await scan(seed.account_id)
    assert [r.status for r in await candidates(seed.account_id, None)] == ["obsolete"]
    assert a


async def test_older_generation_scan_writes_nothing(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        await seed.named("John Smith")
        await seed.named("John Smithe")
    try:
        await scan(seed.account_id, generation=seed.generation - 1)
    except StaleGeneration:
        pass
    else:
        raise AssertionError("a stale scan must not complete")
    assert await candidates(seed.account_id, None) == []


async def test_concurrent_scans_are_serialized_without_duplicates(
    seed: Seeder, scan: Any, candidates: Any
) -> None:
    async with seed.session.begin():
        for i in range(30):
            await seed.named(f"Person{i:02d} Example")
    results = await asyncio.gather(*(scan(seed.account_id) for _ in range(3)))
    rows = await candidates(seed.account_id)
    assert len(rows) == len({(r.contact_id, r.duplicate_contact_id) for r in rows})
    assert sum(r.new_candidates for r in results) == len(rows) > 0
