"""Notes (importer.md §7.3, §15 items 11–12) and progress events (item 10)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import Import, Note
from kith_common.testing.fake_monica import FakeMonica, Fault, World
from kith_importer.testing import progress_events

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def world() -> World:
    world = World(seed=9)
    world.add_user("test-token")
    for i in range(1, 45):
        world.add_contact(
            id=i,
            first_name=f"N{i}",
            last_name="Z",
            created_at=f"2021-02-{i % 28 + 1:02d}T00:00:00Z",
        )
    for n in range(250):
        contact = 1 if n < 6 else 2 + n % 43
        world.add_item(
            "notes",
            body=f"note {n}",
            contact_id=contact,
            created_at=f"2022-03-01T00:{n // 60:02d}:{n % 60:02d}Z",
        )
    world.add_item("notes", body=" note 0 ", contact_id=1, created_at="2023-01-01T00:00:00Z")
    return world


async def test_all_notes_come_from_the_account_wide_list_in_three_requests(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    row = await run_import()
    assert row.status == "completed"
    assert fake.count("/api/notes") == 3
    assert not [e for e in fake.log if e.endpoint.startswith("/api/contacts/{id}/")]
    async with session_factory() as session:
        bodies = (
            await session.scalars(select(Note.body).where(Note.account_id == account[0]))
        ).all()
    assert len(bodies) == 250  # the 3 oldest of contact 1 included; " note 0 " counted once
    assert {f"note {n}" for n in range(6)} <= set(bodies)
    assert row.summary["notes"] == 250


async def test_a_short_notes_list_refetches_only_the_short_contacts(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    # Notes sit on contacts 1-3 only; page 2 of /api/notes loses its rows (as a tie drop on
    # an account-wide list would).
    for n, note in enumerate(fake.world.items["notes"]):
        note["contact_id"] = 1 if n < 120 or n == 250 else 2 if n < 190 else 3
    fake.add_fault(
        Fault(
            "/api/notes",
            kind="body",
            page=2,
            body={"data": [], "meta": {"total": 251, "last_page": 3, "current_page": 2}},
        )
    )
    row = await run_import()
    per_contact = [e.path for e in fake.log if e.endpoint == "/api/contacts/{id}/notes"]
    # only contacts whose number_of_notes exceeds what was imported
    assert per_contact
    assert set(per_contact) <= {f"/api/contacts/{i}/notes" for i in (1, 2, 3)}
    async with session_factory() as session:
        bodies = (
            await session.scalars(select(Note.body).where(Note.account_id == account[0]))
        ).all()
    assert len(bodies) == 250
    assert row.summary["notes"] == 250


async def test_torn_notes_are_relisted_before_any_per_contact_call(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    # 40 notes written in one second, cut by the page boundary at 100 (notes sort newest
    # first): with this seed the list shows 6 of them twice and never shows 6 others.
    for note in fake.world.items["notes"][120:160]:
        note["created_at"] = "2022-03-01T00:02:00Z"
    fake.tie_drop = {"contacts", "notes"}
    row = await run_import()
    assert row.summary["notes"] == 250
    async with session_factory() as session:
        bodies = (
            await session.scalars(select(Note.body).where(Note.account_id == account[0]))
        ).all()
    assert len(bodies) == 250
    assert not [e for e in fake.log if e.endpoint == "/api/contacts/{id}/notes"]
    relisted = [
        e.query for e in fake.log if e.endpoint == "/api/notes" and "limit=100" not in e.query
    ]
    assert len(relisted) == 1
    assert row.summary["requests_by_phase"]["notes"] == {"listing": 3, "relisting": 1}


async def test_progress_is_published_at_every_phase_edge_and_ends_at_the_total(
    run_import: Any, session_factory: Sessions, account: tuple[int, int]
) -> None:
    row = await _misc_done(session_factory, (await run_import()).id)
    assert row.misc_status == "completed"
    events = [{"data": e} for e in await progress_events(session_factory, account[0])]
    phases = [e["data"]["phase"] for e in events]
    for phase in (
        "reference_data",
        "listing",
        "notes",
        "coverage_backfill",
        "auto_merge",
        "cross_references",
        "misc",
    ):
        assert phase in phases
    # importer.md §11: every phase reports its start and its end; the misc phase (a follow-up
    # with its own events) starts at 0 and ends at its total, one step per enabled type.
    misc = [
        (e["data"]["current"], e["data"]["total"]) for e in events if e["data"]["phase"] == "misc"
    ]
    assert misc[0] == (0, 10)
    assert misc[-1] == (10, 10)
    assert [c for c, _ in misc] == sorted(c for c, _ in misc)
    last = events[-1]["data"]
    assert last["current"] == last["total"]
    assert all(e["data"]["import_id"] == row.id for e in events)


async def _misc_done(sessions: Sessions, import_id: int) -> Import:
    deadline = time.monotonic() + 60
    while True:
        async with sessions() as session:
            row = await session.get(Import, import_id)
        assert row is not None
        if row.misc_status in ("completed", "failed", "cancelled") or row.status != "completed":
            return row
        assert time.monotonic() < deadline, row.summary
        await asyncio.sleep(0.1)
