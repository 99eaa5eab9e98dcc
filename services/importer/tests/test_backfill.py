"""Coverage backfill (importer.md §7.4, §15 items 13–17) against the fake's real tie drops."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import Contact, ContactField, ImportRecord
from kith_common.testing.fake_monica import FakeMonica, World, generate

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


@pytest.fixture
def world() -> World:
    world = _world(5)
    world.hidden_ids = {4}
    return world


async def test_hidden_contact_is_fetched_directly_with_its_email_and_phone(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    row = await run_import()
    backfill = row.summary["coverage_backfill"]
    assert backfill["gap_detected"] == 1
    assert backfill["imported_full"] == 1
    assert backfill["unresolved_gap"] == 0
    assert fake.count("/api/contacts/{id}") == 1
    assert [e.path for e in fake.log if e.endpoint == "/api/contacts/{id}"] == ["/api/contacts/4"]
    async with session_factory() as session:
        four = await session.scalar(
            select(Contact).where(Contact.account_id == account[0], Contact.first_name == "P4")
        )
        assert four is not None
        values = set(
            (
                await session.scalars(
                    select(ContactField.value).where(ContactField.contact_id == four.id)
                )
            ).all()
        )
    assert values == {"p4@example.org", "+12025550104"}
    # every request of the phase counted, the total probe included
    assert backfill["requests"] == 2


async def test_no_gap_means_no_direct_get(run_import: Any, fake: FakeMonica) -> None:
    fake.world.hidden_ids = set()
    row = await run_import()
    assert row.summary["coverage_backfill"]["gap_detected"] == 0
    assert fake.count("/api/contacts/{id}") == 0


async def test_partial_in_the_range_does_not_close_the_gap(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    # Listed {1,2,4}, total 4 (5 hidden), 3 partial: both imported, only 5 closes the gap.
    fake.world.hidden_ids = {5}
    fake.world.contacts[3].is_partial = True
    row = await run_import()
    backfill = row.summary["coverage_backfill"]
    assert backfill["imported_full"] == 1
    assert backfill["imported_partial"] == 1
    assert backfill["unresolved_gap"] == 0
    assert await _mapped_ids(session_factory, account[0]) == {1, 2, 3, 4, 5}


async def test_inactive_is_skipped_and_the_scan_stops_once_the_gap_is_closed(
    run_import: Any, fake: FakeMonica
) -> None:
    world = fake.world
    world.add_contact(id=6, first_name="P6", created_at="2021-01-06T00:00:00Z")
    world.hidden_ids = {5}
    world.contacts[3].is_active = False
    world.contacts[4].is_active = True
    row = await run_import()
    backfill = row.summary["coverage_backfill"]
    assert [e.path for e in fake.log if e.endpoint == "/api/contacts/{id}"] == [
        "/api/contacts/3",
        "/api/contacts/5",
    ]
    assert backfill["skipped_inactive"] == 1
    assert backfill["imported_full"] == 1
    assert backfill["unresolved_gap"] == 0


async def test_dropped_contact_beyond_the_last_listed_id_is_found(
    run_import: Any, fake: FakeMonica
) -> None:
    fake.world.hidden_ids = {5}
    row = await run_import()
    assert row.summary["coverage_backfill"]["imported_full"] == 1
    assert fake.count("/api/contacts/{id}") == 1


async def test_all_404_leaves_the_gap_unresolved(run_import: Any, fake: FakeMonica) -> None:
    from kith_common.testing.fake_monica import Fault

    fake.add_fault(Fault("/api/contacts/{id}", status=404, times=None))
    row = await run_import()
    backfill = row.summary["coverage_backfill"]
    assert row.status == "completed"
    assert backfill["gap_detected"] == 1
    assert backfill["unresolved_gap"] == 1
    # the original's range: [min(L), max(L) + 50] minus the listed ids, each tried once
    assert backfill["skipped_deleted"] == 55 - 4
    assert fake.count("/api/contacts/{id}", 404) == 51


async def test_referenced_dropped_contact_costs_one_get_and_partials_none(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    world = fake.world
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


@pytest.mark.parametrize("density", [1.0, 0.7], ids=["dense", "sparse"])
async def test_1000_contacts_with_tie_drops_are_all_imported_once(
    importer: Any,
    session_factory: Sessions,
    account: tuple[int, int],
    density: float,
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
        id_density=density,
        notes_per_contact=0.3,
        relationship_ratio=0.05,
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
    assert backfill["requests"] == fake.count("/api/contacts/{id}") + 1
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
    # far fewer direct GETs than a blind scan of the id range
    listed = active_full - dropped
    blind = max(listed) + 50 - min(listed) + 1 - len(listed)
    assert fake.count("/api/contacts/{id}") < blind / 2
