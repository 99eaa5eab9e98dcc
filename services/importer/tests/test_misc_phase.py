"""Misc-data phase (importer.md §8, §15 items 24–26): account-wide lists, mappings, re-runs."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import (
    Activity,
    ActivityContact,
    Call,
    Contact,
    Conversation,
    Debt,
    Gift,
    Import,
    JournalEntry,
    LifeEvent,
    Message,
    Pet,
    Reminder,
    Task,
)
from kith_common.testing.fake_monica import FakeMonica, World, generate

Sessions = async_sessionmaker[AsyncSession]
STAMP = "2023-05-04T10:00:00Z"


async def wait_misc(sessions: Sessions, import_id: int, timeout: float = 60.0) -> Import:
    deadline = time.monotonic() + timeout
    while True:
        async with sessions() as session:
            row = await session.get(Import, import_id)
        assert row is not None
        if row.status in ("failed", "cancelled") or row.misc_status in (
            "completed",
            "failed",
            "cancelled",
        ):
            return row
        assert time.monotonic() < deadline, f"misc still {row.misc_status}: {row.summary}"
        await asyncio.sleep(0.1)


@pytest.fixture
def world() -> World:
    w = World(seed=3)
    w.add_user("test-token")
    w.add_contact(
        id=1,
        first_name="Ann",
        last_name="Lee",
        created_at="2021-01-01T00:00:00Z",
        birthdate={"date": "1990-07-14T00:00:00Z", "is_year_unknown": False, "is_age_based": False},
    )
    w.add_contact(id=2, first_name="Bob", last_name="Ray", created_at="2021-01-02T00:00:00Z")
    common = {"contact_id": 1, "created_at": STAMP}
    w.add_item(
        "pets", name="Rex", pet_category={"id": 4, "name": "dog", "is_common": True}, **common
    )
    w.add_item("pets", name="Zig", pet_category={"id": 9, "name": "small_animal"}, **common)
    w.add_item("pets", name="Ghost", pet_category={"name": "cat"}, contact_id=999, created_at=STAMP)
    w.add_item(
        "calls",
        called_at="2023-04-01T09:30:00Z",
        content="caught up",
        contact_called=True,
        emotions=[],
        **common,
    )
    w.add_item(
        "activities",
        summary="Dinner",
        description="tapas",
        happened_at="2023-05-04",
        activity_type={"name": "ate", "activity_type_category": {"name": "food"}},
        emotions=[],
        attendee_ids=[1, 2],
        created_at=STAMP,
    )
    w.add_item(
        "activities", summary="Nobody", happened_at="2023-05-04", attendee_ids=[], created_at=STAMP
    )
    for status in ("idea", "offered", "received"):
        w.add_item(
            "gifts",
            name=f"Gift {status}",
            comment="sci-fi",
            url="https://x.test/b",
            amount="14.50",
            status=status,
            date="2023-05-04",
            photos=[],
            **common,
        )
    w.add_item("debts", in_debt="yes", status="completed", amount="20.00", reason="lunch", **common)
    w.add_item("debts", in_debt="no", status="inprogress", amount="5.00", reason="taxi", **common)
    w.add_item("tasks", title="Call back", completed=True, completed_at=STAMP, **common)
    w.add_item("tasks", title="Account-wide", completed=False, contact_id=None, created_at=STAMP)
    w.add_item(
        "reminders",
        title="Monthly",
        frequency_type="month",
        frequency_number=1,
        initial_date="2020-01-15T00:00:00Z",
        delible=True,
        **common,
    )
    w.add_item(
        "reminders",
        title="Every 5 weeks",
        frequency_type="week",
        frequency_number=5,
        initial_date="2020-01-15T00:00:00Z",
        delible=True,
        **common,
    )
    w.add_item(
        "reminders",
        title="Once",
        frequency_type="one_time",
        frequency_number=1,
        initial_date="2020-01-15T00:00:00Z",
        delible=True,
        **common,
    )
    w.add_item(
        "reminders",
        title="Birthday of Ann",
        frequency_type="year",
        frequency_number=1,
        initial_date="1990-07-14T00:00:00Z",
        delible=False,
        **common,
    )
    w.add_item(
        "conversations",
        happened_at=STAMP,
        contact_field_type={"id": 5, "name": "Whatsapp"},
        messages=[
            {"content": "hi", "written_at": STAMP, "written_by_me": True},
            {"content": "hello", "written_at": None, "written_by_me": False},
        ],
        **common,
    )
    w.add_item(
        "lifeevents",
        name="New job",
        note="at Acme",
        happened_at=STAMP,
        life_event_type={"name": "New job", "life_event_category": {"name": "Work & education"}},
        **common,
    )
    w.add_item(
        "journal",
        title="Day",
        post="A good day",
        date="2023-05-04T10:00:00.000000Z",
        created_at=STAMP,
    )
    return w


async def _count(session: AsyncSession, model: Any, account_id: int) -> int:
    return int(
        await session.scalar(select(func.count()).where(model.account_id == account_id)) or 0
    )


async def test_every_misc_type_maps_the_fields_monica_really_sends(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    row = await wait_misc(session_factory, (await run_import()).id)
    assert row.misc_status == "completed", row.summary
    misc = row.summary["misc"]
    acc = account[0]
    async with session_factory() as s:
        ann = await s.scalar(
            select(Contact).where(Contact.account_id == acc, Contact.first_name == "Ann")
        )
        bob = await s.scalar(
            select(Contact).where(Contact.account_id == acc, Contact.first_name == "Bob")
        )
        assert ann is not None
        assert bob is not None
        pets = {
            p.name: p.species for p in await s.scalars(select(Pet).where(Pet.account_id == acc))
        }
        assert pets == {"Rex": "dog", "Zig": "other"}
        call = (await s.scalars(select(Call).where(Call.account_id == acc))).one()
        assert (call.direction, call.notes, call.duration_minutes) == ("inbound", "caught up", None)
        assert call.occurred_at == dt.datetime(2023, 4, 1, 9, 30, tzinfo=dt.UTC)
        activity = (await s.scalars(select(Activity).where(Activity.account_id == acc))).one()
        assert activity.title == "Dinner"
        assert activity.occurred_at == dt.datetime(2023, 5, 4, tzinfo=dt.UTC)  # account tz UTC
        links = set(
            await s.scalars(
                select(ActivityContact.contact_id).where(ActivityContact.activity_id == activity.id)
            )
        )
        assert links == {ann.id, bob.id}
        gifts = {
            g.name: (g.direction, g.status, g.description, g.amount, g.occurred_on)
            for g in await s.scalars(select(Gift).where(Gift.account_id == acc))
        }
        assert gifts["Gift idea"][:2] == ("given", "idea")
        assert gifts["Gift offered"][:2] == ("given", "given")
        assert gifts["Gift received"] == (
            "received",
            "received",
            "sci-fi",
            Decimal("14.50"),
            dt.date(2023, 5, 4),
        )
        debts = {
            d.title: (d.direction, d.status)
            for d in await s.scalars(select(Debt).where(Debt.account_id == acc))
        }
        assert debts == {"lunch": ("owed_by_me", "settled"), "taxi": ("owed_to_me", "active")}
        tasks = {
            t.title: (t.status, t.contact_id)
            for t in await s.scalars(select(Task).where(Task.account_id == acc))
        }
        assert tasks == {"Call back": ("completed", ann.id), "Account-wide": ("pending", None)}
        reminders = {
            r.title: r for r in await s.scalars(select(Reminder).where(Reminder.account_id == acc))
        }
        today = dt.date.today()
        monthly = reminders["Monthly"]
        assert (monthly.type, monthly.frequency) == ("recurring", "monthly")
        assert monthly.next_reminder_on.day == 15
        assert monthly.next_reminder_on >= today
        assert monthly.next_reminder_on < today + dt.timedelta(days=32)
        assert reminders["Every 5 weeks"].frequency == "monthly"  # nearest, counted
        assert (reminders["Once"].type, reminders["Once"].active) == ("one_time", False)
        birthday = reminders["Birthday of Ann"]
        assert (birthday.type, birthday.frequency) == ("birthday", None)
        assert (birthday.next_reminder_on.month, birthday.next_reminder_on.day) == (7, 14)
        conversation = (
            await s.scalars(select(Conversation).where(Conversation.account_id == acc))
        ).one()
        assert (conversation.platform, conversation.subject) == ("whatsapp", None)
        messages = {
            m.body: (m.direction, m.sent_at)
            for m in await s.scalars(
                select(Message).where(Message.conversation_id == conversation.id)
            )
        }
        when = dt.datetime(2023, 5, 4, 10, tzinfo=dt.UTC)
        assert messages == {"hi": ("sent", when), "hello": ("received", when)}
        event = (await s.scalars(select(LifeEvent).where(LifeEvent.account_id == acc))).one()
        assert (event.occurred_on, event.note) == (dt.date(2023, 5, 4), "New job\n\nat Acme")
        journal = (
            await s.scalars(select(JournalEntry).where(JournalEntry.account_id == acc))
        ).one()
        assert (journal.content, journal.author_id) == ("A good day", account[1])
    assert misc["skipped"] == {
        "no_contact": 2
    }  # the pet of a contact Monica no longer has; the empty activity
    assert misc["reminders_approximated"] == 1
    assert (misc["pets"], misc["gifts"], misc["reminders"], misc["messages"]) == (2, 3, 4, 2)
    for endpoint in (
        "pets",
        "calls",
        "activities",
        "gifts",
        "debts",
        "tasks",
        "reminders",
        "conversations",
        "lifeevents",
        "journal",
    ):
        assert fake.count(f"/api/{endpoint}") == 1
    assert not [e for e in fake.log if e.endpoint.startswith("/api/contacts/{id}/")]
    assert row.api_key_encrypted is None  # no phase needs the key any more


async def test_a_rerun_duplicates_nothing_and_a_type_switched_off_costs_nothing(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    await wait_misc(session_factory, (await run_import()).id)
    async with session_factory() as s:
        before = {
            m.__name__: await _count(s, m, account[0])
            for m in (
                Pet,
                Call,
                Activity,
                Gift,
                Debt,
                Task,
                Reminder,
                Message,
                LifeEvent,
                JournalEntry,
            )
        }
    fake.reset_stats()
    row = await wait_misc(
        session_factory, (await run_import(options={"pets": False, "calls": False})).id
    )
    assert row.misc_status == "completed"
    assert fake.count("/api/pets") == 0
    assert fake.count("/api/calls") == 0
    async with session_factory() as s:
        after = {
            m.__name__: await _count(s, m, account[0])
            for m in (
                Pet,
                Call,
                Activity,
                Gift,
                Debt,
                Task,
                Reminder,
                Message,
                LifeEvent,
                JournalEntry,
            )
        }
    assert after == before


@pytest.mark.parametrize("contacts", [200])
async def test_requests_are_one_per_hundred_items_far_below_a_per_contact_crawl(
    contacts: int,
    fake: FakeMonica,
    run_import: Any,
    session_factory: Sessions,
    account: tuple[int, int],
) -> None:
    fake.world = generate(contacts=contacts, seed=5, misc_per_contact=3.0)
    fake.world.add_user("test-token")
    row = await wait_misc(session_factory, (await run_import()).id, timeout=120)
    assert row.misc_status == "completed", row.summary
    endpoints = (
        "pets",
        "calls",
        "activities",
        "gifts",
        "debts",
        "tasks",
        "reminders",
        "conversations",
        "lifeevents",
        "journal",
    )
    misc_requests = 0
    for name in endpoints:
        items = len(fake.world.items.get(name, []))
        assert fake.count(f"/api/{name}") == max(1, math.ceil(items / 100)), name
        misc_requests += fake.count(f"/api/{name}")
    assert row.summary["misc"]["requests"] == misc_requests
    # The original's per-contact crawl: at least one request per contact and type (8 types).
    assert misc_requests * 20 <= len(fake.listed_contacts()) * 8
