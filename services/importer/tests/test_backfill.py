"""Coverage backfill (importer.md §7.4, §15 items 13–17) against the fake's real tie drops.

The backfill re-lists torn tie groups (stages B/C), GETs referenced ids, and only then ids
inside a short group's id span (D); items 13 and 14 of the first design (a hidden contact found
by walking the id range) became an honest unresolved gap with no request spent."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import Contact, ContactField, ImportRecord
from kith_common.testing.fake_monica import FakeMonica, Fault, World, generate

Sessions = async_sessionmaker[AsyncSession]


def _world(n: int, **kw: Any) -> World:
    world = World(seed=2)
    world.add_user("test-token")
    for i in range(1, n + 1):
        world.add_contact(
            id=i,
            first_name=f"P{i}",
            last_name="X",
            created_at=f"2021-01-{i:02d}T00:00:00Z",
            fields=[
                {"id": 100 + i, "type_id": 1, "content": f"p{i}@example.org", "labels": []},
                {"id": 200 + i, "type_id": 2, "content": f"+1 202 555 01{i:02d}", "labels": []},
            ],
        )
    return world


async def _mapped_ids(sessions: Sessions, account_id: int) -> set[int]:
    async with sessions() as session:
        ids = await session.scalars(
            select(ImportRecord.source_entity_id).where(
                ImportRecord.account_id == account_id, ImportRecord.source_entity_type == "contact"
            )
        )
        return {int(i) for i in ids}


def _tied_world(seed: int = 11) -> World:
    """110 contacts, the last 20 created in one burst that the page cut at 100 tears: with
    seed 11 the listing shows three of them twice and never shows 93, 95 and 104."""
    world = _world(90)
    world.seed = seed
    for i in range(91, 111):
        world.add_contact(
            id=i,
            first_name=f"P{i}",
            last_name="X",
            created_at="2021-05-01T00:00:00Z",
            fields=[{"id": 100 + i, "type_id": 1, "content": f"p{i}@example.org", "labels": []}],
        )
    return world


def _relisted(fake: FakeMonica) -> list[str]:
    """The listing requests that were not pages at limit 100 (the re-listing windows)."""
    return [
        e.query
        for e in fake.log
        if e.endpoint == "/api/contacts" and "limit=100&" not in e.query + "&"
    ]


@pytest.fixture
def world() -> World:
    return _tied_world()


async def test_torn_burst_is_relisted_in_one_request_with_every_field(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    dropped = fake.expected_unlisted(100)
    assert dropped == {93, 95, 104}
    # A 5xx on the re-listing window is retried by the client's one retry layer.
    fake.add_fault(Fault("/api/contacts", status=503, page=5, times=1))
    row = await run_import()
    backfill = row.summary["coverage_backfill"]
    assert backfill["gap_detected"] == 3
    assert backfill["imported_full"] == 3
    assert backfill["unresolved_gap"] == 0
    assert backfill["unresolved_created_at"] == []
    assert (backfill["torn_groups"], backfill["relisted"]) == (1, 1)
    assert (backfill["listing_positions"], backfill["listing_total"]) == (110, 110)
    # Offsets 90..109 fit one page of 22 (page 5: positions 88..109): one window, no GET.
    assert _relisted(fake) == ["limit=22&page=5&with=contactfields"] * 2
    assert fake.count("/api/contacts/{id}") == 0
    assert backfill["requests"] == 2  # the window and its retry; no probe of the total
    by_phase = row.summary["requests_by_phase"]
    assert by_phase["listing"] == {"listing": 2}
    assert by_phase["coverage_backfill"] == {"relisting": 2}
    assert sum(n for p in by_phase.values() for n in p.values()) == row.summary["requests"]
    crawl = {"/api/contacts", "/api/notes", "/api/genders", "/api/tags"}
    crawl |= {"/api/contactfieldtypes", "/api/relationshiptypes"}
    # the fake's own count of the crawl's requests (the misc phase may have begun by now)
    assert row.summary["requests"] == sum(1 for e in fake.log if e.endpoint in crawl)
    assert await _mapped_ids(session_factory, account[0]) == set(range(1, 111))
    async with session_factory() as session:
        emails = set(
            (
                await session.scalars(
                    select(ContactField.value)
                    .join(Contact, Contact.id == ContactField.contact_id)
                    .where(Contact.account_id == account[0], Contact.first_name.in_(["P93"]))
                )
            ).all()
        )
    assert emails == {"p93@example.org"}


async def test_failed_window_falls_back_to_gets_inside_the_groups_id_span(
    run_import: Any, fake: FakeMonica
) -> None:
    fake.add_fault(Fault("/api/contacts", status=404, page=5, times=1))
    row = await run_import()
    backfill = row.summary["coverage_backfill"]
    assert backfill["imported_full"] == 3
    assert backfill["unresolved_gap"] == 0
    assert backfill["errors"] == 1
    assert any("limit 22 page 5" in e for e in row.summary["errors"])
    # D: only the unlisted ids between the group's seen members, ascending, until it is whole
    gets = [e.path for e in fake.log if e.endpoint == "/api/contacts/{id}"]
    assert gets == ["/api/contacts/93", "/api/contacts/95", "/api/contacts/104"]
    assert row.summary["requests_by_phase"]["coverage_backfill"] == {"relisting": 1, "direct": 3}


async def test_hidden_contact_is_an_honest_gap_and_no_id_is_walked(
    run_import: Any, fake: FakeMonica
) -> None:
    # Never listed under any query, yet counted by meta.total: no tie explains it, so no
    # request can be aimed at it. The positions are trusted and the disagreement recorded.
    world = _world(5)
    world.hidden_ids = {4}
    fake.world = world
    row = await run_import()
    backfill = row.summary["coverage_backfill"]
    assert row.status == "completed"
    assert backfill["gap_detected"] == 1
    assert backfill["unresolved_gap"] == 1
    assert (backfill["listing_positions"], backfill["listing_total"]) == (4, 5)
    assert backfill["requests"] == 0
    assert fake.count("/api/contacts/{id}") == 0
    assert _relisted(fake) == []


async def test_referenced_partial_costs_nothing_and_does_not_close_the_gap(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    # Listed {1,2,4}, total 4 (5 hidden), 3 partial: both imported, only 5 closes the gap.
    world = _world(7)
    world.hidden_ids = {5}
    world.contacts[3].is_partial = True
    world.contacts[6].address_book = "work"  # looks full and active when referenced
    world.contacts[7].is_active = False
    world.relate(1, "parent", 3)
    world.relate(2, "friend", 5)
    world.relate(2, "colleague", 6)
    world.relate(4, "friend", 7)
    fake.world = world
    row = await run_import()
    backfill = row.summary["coverage_backfill"]
    assert backfill["imported_full"] == 1
    assert backfill["imported_partial"] == 1
    assert backfill["skipped_inactive"] == 1
    assert backfill["unresolved_gap"] == 0
    # ascending, and it stops once the gap is closed: 6 is never fetched
    assert [e.path for e in fake.log if e.endpoint == "/api/contacts/{id}"] == ["/api/contacts/5"]
    assert await _mapped_ids(session_factory, account[0]) == {1, 2, 3, 4, 5}


async def test_referenced_dropped_contact_costs_one_get_and_partials_none(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    world = fake.world = _world(5)
    world.hidden_ids = {4}
    world.relate(1, "friend", 4)
    partial = world.add_contact(
        id=40, first_name="Kid", is_partial=True, created_at="2021-02-01T00:00:00Z"
    )
    inactive = world.add_contact(
        id=41, first_name="Old", is_active=False, created_at="2021-02-01T00:00:00Z"
    )
    world.relate(2, "parent", partial.id)
    world.relate(3, "friend", inactive.id)
    row = await run_import()
    backfill = row.summary["coverage_backfill"]
    assert fake.count("/api/contacts/{id}") == 1
    assert backfill["imported_full"] == 1
    assert backfill["imported_partial"] == 1
    assert backfill["skipped_inactive"] == 1
    assert 40 in await _mapped_ids(session_factory, account[0])
    errors = " | ".join(row.summary["errors"])
    assert "Relationship friend between 3 and 41: 41 not imported" in errors
    assert row.summary["relationships"] == 2


@pytest.mark.parametrize(
    "shape",
    [{"id_density": 0.7}, {"id_spread": 100, "large_bursts": (150,)}],
    ids=["sparse", "hosted-with-a-burst-over-a-page"],
)
async def test_1000_contacts_with_tie_drops_are_all_imported_once(
    importer: Any,
    session_factory: Sessions,
    account: tuple[int, int],
    shape: dict[str, Any],
) -> None:
    from kith_common.testing.fake_monica import FakeMonicaServer
    from kith_importer.testing import create, wait_for

    world = generate(
        contacts=1000,
        seed=17,
        partial_ratio=0.03,
        inactive_ratio=0.02,
        duplicate_ratio=0.02,
        garbage_phone_ratio=0.05,
        notes_per_contact=0.3,
        relationship_ratio=0.05,
        **shape,
    )
    fake = FakeMonica(world)
    dropped = fake.expected_unlisted(100)
    assert len(dropped) >= 8
    active_full = {c.id for c in fake.listed_contacts()}
    with FakeMonicaServer(fake) as server:
        import_id = await create(
            session_factory, account, server.url, options={"auto_merge_duplicates": False}
        )
        row = await wait_for(session_factory, import_id, timeout=240)
    assert row.status == "completed", row.error
    backfill = row.summary["coverage_backfill"]
    assert backfill["unresolved_gap"] == 0
    assert backfill["gap_detected"] == len(dropped)
    assert backfill["imported_full"] == len(dropped)
    # One window per torn group that fits a page, a bounded few for the one that does not;
    # on hosted ids a walk of the id range would have cost ~95,000 GETs.
    relisting = row.summary["requests_by_phase"]["coverage_backfill"]
    assert backfill["requests"] == sum(relisting.values())
    assert backfill["requests"] <= backfill["torn_groups"] + 3 * 2
    assert fake.count("/api/contacts/{id}") == relisting.get("direct", 0)
    mapped = await _mapped_ids(session_factory, account[0])
    assert active_full <= mapped
    partials = {c.id for c in world.contacts.values() if c.is_partial and c.id in mapped}
    assert row.summary["contacts"] == len(active_full) + len(partials)
    assert row.summary["created"] == row.summary["contacts"]
    async with session_factory() as session:
        contacts = await session.scalar(
            select(func.count()).where(Contact.account_id == account[0])
        )
    assert contacts == row.summary["contacts"]
