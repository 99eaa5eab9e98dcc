"""End-to-end crawls against the fake Monica over real HTTP, NATS and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import (
    Address,
    Contact,
    ContactField,
    ContactTag,
    Import,
    Note,
    Outbox,
)
from kith_common.events import subjects
from kith_common.testing.fake_monica import FakeMonica, World, generate
from kith_importer.phases.reference_data import REFERENCE_ENDPOINTS
from kith_importer.testing import snapshot

Sessions = async_sessionmaker[AsyncSession]


def _three_contacts() -> World:
    world = World(seed=1)
    world.add_user("test-token")
    world.tags = [{"id": 1, "name": "Family"}]
    ann = world.add_contact(
        first_name="Ann",
        last_name="Lee",
        gender_id=2,
        is_starred=True,
        job="Pilot",
        company="Air",
        birthdate={"is_age_based": False, "is_year_unknown": True, "date": "2019-04-05T00:00:00Z"},
        first_met_info="at school",
        first_met_date={
            "is_age_based": False,
            "is_year_unknown": False,
            "date": "2001-09-01T00:00:00Z",
        },
        created_at="2021-01-01T10:00:00Z",
        tag_ids=[1],
        fields=[
            {"id": 1, "type_id": 1, "content": " ann@example.org ", "labels": ["home"]},
            {"id": 2, "type_id": 2, "content": "(202) 555-0100", "labels": []},
            {"id": 3, "type_id": 5, "content": "+1 202 555 0199", "labels": []},
        ],
        addresses=[
            {
                "id": 9,
                "name": "home",
                "street": "1 Main St",
                "city": "Boston",
                "postal_code": "02110",
                "country": {"id": 1, "object": "country", "name": "United States", "iso": "us"},
            },
            {
                "id": 10,
                "name": "dup",
                "street": "1  main st",
                "city": "BOSTON",
                "postal_code": "02110",
                "country": {"id": 1, "object": "country", "name": "united states", "iso": "us"},
            },
        ],
    )
    world.add_contact(
        first_name="Bob",
        last_name=None,
        birthdate={"is_age_based": True, "is_year_unknown": False, "date": "1980-01-01T00:00:00Z"},
        created_at="2021-01-02T10:00:00Z",
    )
    cara = world.add_contact(
        first_name="Cara",
        last_name="Diaz",
        created_at="2021-01-03T10:00:00Z",
        first_met_through_id=ann.id,
    )
    world.relate(cara.id, "spouse", ann.id)
    world.add_item(
        "notes",
        body="first note",
        is_favorited=True,
        contact_id=ann.id,
        created_at="2022-01-01T00:00:00Z",
    )
    return world


@pytest.fixture
def world() -> World:
    return _three_contacts()


async def _contact(sessions: Sessions, account_id: int, first: str) -> Contact:
    async with sessions() as session:
        row = await session.scalar(
            select(Contact).where(Contact.account_id == account_id, Contact.first_name == first)
        )
    assert row is not None
    return row


async def test_listing_maps_scalars_fields_addresses_and_tags(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    row = await run_import(options={"phone_default_region": "US"})
    assert row.status == "completed", row.summary
    listing = [e for e in fake.log if e.endpoint == "/api/contacts"]
    assert "limit=100" in listing[0].query
    assert "with=contactfields" in listing[0].query
    ann = await _contact(session_factory, account[0], "Ann")
    assert (ann.last_name, ann.job_title, ann.company, ann.favorite) == (
        "Lee",
        "Pilot",
        "Air",
        True,
    )
    assert str(ann.birthdate) == "2019-04-05"
    assert ann.birthdate_year_unknown is True
    assert str(ann.first_met_at) == "2001-09-01"
    assert ann.first_met_additional_info == "at school"
    bob = await _contact(session_factory, account[0], "Bob")
    assert bob.birthdate is None  # age-based: not a real day
    assert bob.last_name is None
    cara = await _contact(session_factory, account[0], "Cara")
    assert cara.first_met_through_id == ann.id
    async with session_factory() as session:
        values = set(
            (
                await session.scalars(
                    select(ContactField.value).where(ContactField.contact_id == ann.id)
                )
            ).all()
        )
        addresses = (
            await session.scalars(select(Address).where(Address.contact_id == ann.id))
        ).all()
        tags = (
            await session.scalars(select(ContactTag).where(ContactTag.contact_id == ann.id))
        ).all()
        notes = (await session.scalars(select(Note).where(Note.contact_id == ann.id))).all()
    assert values == {"ann@example.org", "+12025550100", "+1 202 555 0199"}
    assert len(addresses) == 1
    assert len(tags) == 1
    assert [(n.body, n.favorite) for n in notes] == [("first note", True)]
    assert row.summary["contacts"] == 3
    assert row.summary["relationships"] == 1
    assert row.summary["notes"] == 1


async def test_reimport_updates_and_never_duplicates(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    await run_import()
    before = await snapshot(session_factory, account[0])
    fake.world.contacts[1].last_name = "Newname"
    second = await run_import()
    assert second.status == "completed"
    assert second.summary["updated"] == 3
    assert second.summary["created"] == 0
    after = await snapshot(session_factory, account[0])
    assert len(after["contacts"]) == len(before["contacts"])
    for part in ("fields", "addresses", "notes", "relationships", "tags"):
        assert len(after[part]) == len(before[part]), part
    ann = await _contact(session_factory, account[0], "Ann")
    assert ann.last_name == "Newname"


async def test_soft_deleted_local_copy_is_skipped_and_purged_one_recreated_once(
    run_import: Any, session_factory: Sessions, account: tuple[int, int]
) -> None:
    await run_import()
    ann = await _contact(session_factory, account[0], "Ann")
    bob = await _contact(session_factory, account[0], "Bob")
    async with session_factory() as session, session.begin():
        await session.execute(
            Contact.__table__.update().where(Contact.id == ann.id).values(deleted_at=func.now())
        )
        await session.execute(Contact.__table__.delete().where(Contact.id == bob.id))
    second = await run_import()
    assert second.summary["skipped"] == 1
    assert second.summary["created"] == 1
    third = await run_import()
    assert third.summary["created"] == 0
    async with session_factory() as session:
        bobs = await session.scalar(
            select(func.count()).where(
                Contact.account_id == account[0], Contact.first_name == "Bob"
            )
        )
        ann_now = await session.get(Contact, ann.id)
    assert bobs == 1
    assert ann_now is not None
    assert ann_now.deleted_at is not None


async def test_html_listing_fails_with_a_readable_reason_and_wipes_the_key(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    from kith_common.testing.fake_monica import Fault

    fake.add_fault(Fault("/api/contacts", kind="login_page", times=None))
    row = await run_import()
    assert row.status == "failed"
    assert "web page" in (row.error or "")
    assert row.api_key_encrypted is None
    assert row.misc_status == "cancelled"
    async with session_factory() as session:
        failed = (
            await session.scalars(
                select(Outbox).where(
                    Outbox.account_id == account[0], Outbox.subject == subjects.IMPORT_FAILED
                )
            )
        ).all()
    assert len(failed) == 1
    assert "test-token" not in str(failed[0].envelope)


async def test_wrong_types_give_errors_naming_the_contact_and_the_import_completes(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    from kith_common.testing.fake_monica import Fault

    contact = {
        "id": 77,
        "first_name": ["not", "text"],
        "last_name": "Odd\x00ity",
        "is_partial": False,
        "information": {"dates": {"birthdate": {"date": "2020-13-45T00:00:00Z"}}},
        "contactFields": "nope",
        "created_at": "2021-01-01T10:00:00Z",
    }
    body = {"data": [contact, "garbage"], "meta": {"total": 2, "last_page": 1, "current_page": 1}}
    fake.add_fault(Fault("/api/contacts", kind="body", body=body, page=1))
    row = await run_import(options={"notes": False})
    assert row.status == "completed", row.error
    errors = " | ".join(row.summary["errors"])
    assert "Contact 77" in errors
    assert "first_name" in errors
    assert "birthdate" in errors
    assert "NUL" in errors
    odd = await _contact(session_factory, account[0], "Unknown")
    assert odd.last_name == "Oddity"


async def test_a_start_delivered_twice_runs_one_crawl(
    importer: Any, server: Any, session_factory: Sessions, account: tuple[int, int]
) -> None:
    from kith_common.bus import outbox
    from kith_common.db.models import Inbox
    from kith_common.events.payloads.imports import StartImport
    from kith_common.events.registry import build_envelope
    from kith_common.testing import eventually
    from kith_importer.testing import create, wait_for

    import_id = await create(session_factory, account, server.url)
    async with session_factory() as session:
        first = await session.get(Import, import_id)
    assert first is not None
    again = build_envelope(
        subjects.IMPORT_START,
        StartImport(import_id=import_id),
        account_id=account[0],
        generation=first.generation,
    )
    async with session_factory() as session, session.begin():
        await outbox.add(session, subjects.IMPORT_START, again)
    row = await wait_for(session_factory, import_id)

    async def second_handled() -> bool:
        async with session_factory() as session:
            return await session.get(Inbox, ("importer-start", again.id)) is not None

    await eventually(second_handled, timeout=60)
    async with session_factory() as session:
        final = await session.get(Import, import_id)
        contacts = await session.scalar(
            select(func.count()).where(Contact.account_id == account[0])
        )
    assert final is not None
    assert final.status == "completed"
    assert final.summary["created"] == row.summary["created"] == 3
    assert contacts == 3


async def test_page_two_always_500_fails_naming_page_two_and_keeps_page_one(
    importer: Any, session_factory: Sessions, account: tuple[int, int]
) -> None:
    from kith_common.testing.fake_monica import FakeMonicaServer, Fault
    from kith_importer.testing import create, wait_for

    fake = FakeMonica(generate(contacts=150, seed=8, partial_ratio=0, inactive_ratio=0))
    fake.add_fault(Fault("/api/contacts", status=500, page=2, times=None))
    with FakeMonicaServer(fake) as server:
        import_id = await create(session_factory, account, server.url)
        row = await wait_for(session_factory, import_id, timeout=120)
    assert row.status == "failed"
    assert "page 2" in (row.error or "")
    assert row.api_key_encrypted is None
    async with session_factory() as session:
        kept = await session.scalar(select(func.count()).where(Contact.account_id == account[0]))
    assert kept is not None
    assert 90 <= kept <= 100  # page 1, never left half-written


async def test_reference_lists_are_read_together_and_a_failing_one_fails_the_import(
    run_import: Any, fake: FakeMonica
) -> None:
    """With a remote Monica's latency, four lists read one by one cost four round trips."""
    from kith_common.testing.fake_monica import Fault

    arrivals: dict[str, float] = {}

    def arrived(_: FakeMonica, path: str, _query: str) -> None:
        arrivals.setdefault(path, time.monotonic())

    fake.on_arrival = arrived
    fake.latency = 1.0
    fake.add_fault(Fault("/api/relationshiptypes", kind="login_page", times=None))
    row = await run_import()
    assert row.status == "failed"
    assert "web page" in (row.error or "")
    assert "relationshiptypes" in (row.error or "")
    reference = [arrivals[f"/api/{name}"] for name in REFERENCE_ENDPOINTS]
    # One by one, each would arrive at least a second (the latency) after the one before.
    assert max(reference) - min(reference) < 1.0
    assert "/api/contacts" not in arrivals  # the listing never started
