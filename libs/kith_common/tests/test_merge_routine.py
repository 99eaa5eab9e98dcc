"""The merge routine against real PostgreSQL (dedup.md §5, §7 "Merge")."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import (
    Activity,
    ActivityContact,
    Address,
    AuditLog,
    Call,
    Contact,
    ContactField,
    ContactMerge,
    ContactTag,
    Conversation,
    Debt,
    Document,
    DuplicateCandidate,
    Gift,
    Import,
    ImportRecord,
    LifeEvent,
    Note,
    Outbox,
    Pet,
    Photo,
    Relationship,
    Reminder,
    Tag,
    Task,
    User,
)
from kith_common.dedup.testing import Seeder, new_account
from kith_common.merge import MergeConflict, merge_contacts, preview_merge, routine


@pytest_asyncio.fixture(loop_scope="session")
async def db(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session


@pytest_asyncio.fixture(loop_scope="session")
async def world(db: AsyncSession) -> AsyncIterator[Seeder]:
    async with db.begin():
        seeder = await new_account(db)
    yield seeder


async def pair(seed: Seeder) -> tuple[int, int]:
    a = await seed.contact("Alice", "Smith", company="Old Corp", job_title="Designer")
    b = await seed.contact("Alice", "S.", company="New Corp")
    return a, b


async def merge(seed: Seeder, a: int, b: int, **kw: Any) -> Any:
    kw.setdefault("source", "api")
    kw.setdefault("requested_by_id", seed.user_id)
    return await merge_contacts(
        seed.session, account_id=seed.account_id, survivor_id=a, loser_id=b, **kw
    )


async def contact(seed: Seeder, cid: int) -> Any:
    return (await seed.session.execute(select(Contact).where(Contact.id == cid))).scalar_one()


async def count(seed: Seeder, model: Any, **where: Any) -> int:
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return int(await seed.session.scalar(query) or 0)


async def test_default_merge_keeps_survivor_fields_and_soft_deletes_loser(world: Seeder) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        report = await merge(world, a, b)
    survivor, loser = await contact(world, a), await contact(world, b)
    world.session.expunge_all()
    assert (survivor.display_name, survivor.company, survivor.job_title) == (
        "Alice Smith",
        "Old Corp",
        "Designer",
    )
    assert loser.deleted_at is not None
    assert loser.merged_into_id == a
    assert report.fields == ()


NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
HASH_A = "a" * 64
HASH_B = "b" * 64


async def photo(seed: Seeder, cid: int, content_hash: str) -> int:
    return await seed.row(
        Photo,
        contact_id=cid,
        storage_key=f"a/{seed.account_id}/photos/{uuid.uuid4()}.jpg",
        content_type="image/jpeg",
        size_bytes=10,
        content_hash=content_hash,
    )


async def test_loser_choices_copy_values_even_nulls_and_recompute_display_name(
    world: Seeder,
) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        await world.session.execute(
            update(Contact).where(Contact.id == b).values(first_name="Alicia")
        )
        report = await merge(
            world,
            a,
            b,
            field_choices={"company": "loser", "job_title": "loser", "first_name": "loser"},
        )
    survivor = await contact(world, a)
    assert (survivor.company, survivor.job_title) == ("New Corp", None)
    assert survivor.first_name == "Alicia"
    assert survivor.display_name == "Alicia Smith"
    assert report.survivor.display_name_after == "Alicia Smith"
    assert {f.field for f in report.fields} >= {"company", "job_title", "first_name"}


async def test_children_move_and_duplicates_collapse(world: Seeder) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        c = await world.contact("Carol", "Jones")
        await world.row(Note, contact_id=a, body="from A")
        await world.row(Note, contact_id=b, body="from B")
        await world.address(a, "111 A St", "1", city="X")
        await world.address(b, " 111 a  st", "1", city="x")
        await world.address(b, "222 B St", "2")
        family = await world.row(Tag, name="family")
        work = await world.row(Tag, name="work")
        gym = await world.row(Tag, name="gym")
        for cid, tag in ((a, family), (b, family), (a, work), (b, gym)):
            await world.row(ContactTag, contact_id=cid, tag_id=tag)
        friend = await world.relationship_type("Friend")
        parent = await world.relationship_type("Parent")
        await world.row(
            Relationship, contact_id=a, related_contact_id=c, relationship_type_id=friend
        )
        await world.row(
            Relationship, contact_id=b, related_contact_id=c, relationship_type_id=friend
        )
        await world.row(
            Relationship, contact_id=b, related_contact_id=c, relationship_type_id=parent
        )
        await world.row(
            Relationship, contact_id=b, related_contact_id=a, relationship_type_id=friend
        )
        await world.row(
            Relationship, contact_id=c, related_contact_id=b, relationship_type_id=friend
        )
        await world.field(a, "Email", "A@x.com")
        await world.field(b, "Email", "a@x.com")
        await world.field(a, "Mobile", "+12025550100")
        await world.field(b, "Mobile", "+1 202 555 0100")
        await world.field(b, "Phone", "+12025550100")
        preview = await preview_merge(
            world.session, account_id=world.account_id, survivor_id=a, loser_id=b
        )
    async with world.session.begin():
        report = await merge(world, a, b)
    assert report == preview
    assert await count(world, Note, contact_id=a) == 2
    assert await count(world, Note, contact_id=b) == 0
    lines = sorted(
        (await world.session.scalars(select(Address.line1).where(Address.contact_id == a))).all()
    )
    assert lines == ["111 A St", "222 B St"]
    tags = sorted(
        await world.session.scalars(select(ContactTag.tag_id).where(ContactTag.contact_id == a))
    )
    assert tags == sorted([family, work, gym])
    rels = sorted(
        (r.contact_id, r.related_contact_id, r.relationship_type_id)
        for r in (
            await world.session.scalars(
                select(Relationship).where(
                    (Relationship.contact_id.in_((a, b, c)))
                    & (Relationship.account_id == world.account_id)
                )
            )
        )
    )
    assert rels == sorted([(a, c, friend), (a, c, parent), (c, a, friend)])
    fields = sorted(
        (
            await world.session.execute(
                select(ContactField.contact_field_type_id, ContactField.value).where(
                    ContactField.contact_id == a
                )
            )
        ).all()
    )
    assert len(fields) == 3  # email once, Mobile once, Phone kept (another type)
    assert report.moved["notes"] == 1
    assert len(report.dropped["relationships"]) == 2
    assert len(report.dropped["addresses"]) == 1


async def test_last_talked_to_is_the_later(world: Seeder) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        await world.session.execute(
            update(Contact)
            .where(Contact.id == a)
            .values(last_talked_to_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        )
        await world.session.execute(
            update(Contact)
            .where(Contact.id == b)
            .values(last_talked_to_at=dt.datetime(2025, 6, 15, tzinfo=dt.UTC))
        )
        await merge(world, a, b)
    survivor = await contact(world, a)
    world.session.expunge_all()
    assert survivor.last_talked_to_at == dt.datetime(2025, 6, 15, tzinfo=dt.UTC)


async def test_refusals_are_merge_conflicts_with_status(world: Seeder) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        trashed = await world.contact("Gone", "Person", deleted_at=NOW)
        other = await new_account(world.session)
        foreign = await other.contact("Foreign", "Person")
    cases = [
        (a, a, "same_contact", 400),
        (a, foreign, "not_found", 404),
        (a, trashed, "not_live", 409),
    ]
    for survivor, loser, code, status in cases:
        async with world.session.begin():
            with pytest.raises(MergeConflict) as refused:
                await merge(world, survivor, loser)
        assert (refused.value.code, refused.value.status) == (code, status)
    async with world.session.begin():
        await merge(world, a, b)
    async with world.session.begin():
        with pytest.raises(MergeConflict) as again:
            await merge(world, a, b)
    assert (again.value.code, again.value.merged_into_id) == ("already_merged", a)


async def test_same_hash_photo_is_dropped_and_its_key_reported(world: Seeder) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        kept = await photo(world, a, HASH_A)
        dup = await photo(world, b, HASH_A)
        moved = await photo(world, b, HASH_B)
        await world.session.execute(
            update(Contact).where(Contact.id == b).values(avatar_photo_id=dup)
        )
        key = await world.session.scalar(select(Photo.storage_key).where(Photo.id == dup))
        report = await merge(world, a, b, field_choices={"avatar": "loser"})
    assert report.dropped["photos"] == [dup]
    assert report.dropped_photo_storage_keys == (key,)
    assert report.moved["photos"] == 1
    survivor = await contact(world, a)
    world.session.expunge_all()
    assert survivor.avatar_photo_id == kept  # the dropped avatar's same-hash photo
    photos = sorted(await world.session.scalars(select(Photo.id).where(Photo.contact_id == a)))
    assert photos == sorted([kept, moved])
    event = await world.session.scalar(
        select(Outbox.envelope).where(
            Outbox.account_id == world.account_id, Outbox.subject == "kith.evt.contacts.merged"
        )
    )
    assert event is not None
    assert event["data"]["dropped_photo_storage_keys"] == [key]


async def test_birthday_reminders_collapse_and_others_move(world: Seeder) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        day = dt.date(2026, 5, 1)
        mine = await world.row(Reminder, contact_id=a, type="birthday", next_reminder_on=day)
        theirs = await world.row(Reminder, contact_id=b, type="birthday", next_reminder_on=day)
        other = await world.row(Reminder, contact_id=b, type="one_time", next_reminder_on=day)
        report = await merge(world, a, b)
    reminders = sorted(
        await world.session.scalars(select(Reminder.id).where(Reminder.contact_id == a))
    )
    assert reminders == sorted([mine, other])
    assert report.dropped["reminders"] == [theirs]


async def test_every_contact_owned_row_moves(world: Seeder) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        when = NOW
        shared = await world.row(Activity, title="Dinner", occurred_at=when)
        solo = await world.row(Activity, title="Walk", occurred_at=when)
        for cid, act in ((a, shared), (b, shared), (b, solo)):
            await world.row(ActivityContact, activity_id=act, contact_id=cid)
        await world.row(Call, contact_id=b, occurred_at=when)
        await world.row(
            LifeEvent,
            contact_id=b,
            life_event_type_id=await world.life_event_type(),
            occurred_on=when.date(),
        )
        await world.row(
            Document,
            contact_id=b,
            storage_key=f"a/{world.account_id}/documents/d",
            content_type="text/plain",
            size_bytes=1,
        )
        await world.row(Conversation, contact_id=b)
        await world.row(Gift, contact_id=b, name="Book", direction="given")
        await world.row(Debt, contact_id=b, title="Lunch", amount=10, direction="owed_to_me")
        await world.row(Pet, contact_id=b, name="Rex")
        await world.row(Task, contact_id=b, title="Call back")
        met = await world.contact("Met", "Through", first_met_through_id=b)
        await world.session.execute(
            update(Contact).where(Contact.id == a).values(first_met_through_id=b)
        )
        report = await merge(world, a, b)
    for model in (Call, LifeEvent, Document, Conversation, Gift, Debt, Pet, Task):
        assert await count(world, model, contact_id=a) == 1, model
        assert await count(world, model, contact_id=b) == 0, model
    links = sorted(
        await world.session.scalars(
            select(ActivityContact.activity_id).where(ActivityContact.contact_id == a)
        )
    )
    assert links == sorted([shared, solo])
    assert report.dropped["activities"] == [shared]
    world.session.expunge_all()
    assert (await contact(world, met)).first_met_through_id == a
    assert (await contact(world, a)).first_met_through_id is None


async def test_every_foreign_key_to_contacts_is_handled() -> None:
    """A new table pointing at contacts must be added to the merge (or listed here)."""
    from kith_common.db.base import Base

    handled = {
        ("activity_contacts", "contact_id"),
        ("addresses", "contact_id"),
        ("calls", "contact_id"),
        ("contact_fields", "contact_id"),
        ("contact_tags", "contact_id"),
        ("conversations", "contact_id"),
        ("debts", "contact_id"),
        ("documents", "contact_id"),
        ("gifts", "contact_id"),
        ("life_events", "contact_id"),
        ("notes", "contact_id"),
        ("pets", "contact_id"),
        ("photos", "contact_id"),
        ("relationships", "contact_id"),
        ("relationships", "related_contact_id"),
        ("reminders", "contact_id"),
        ("tasks", "contact_id"),
        ("contacts", "first_met_through_id"),
        ("contacts", "merged_into_id"),
        # step 15 rewrites candidates itself
        ("duplicate_candidates", "contact_id"),
        ("duplicate_candidates", "duplicate_contact_id"),
    }
    found = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_key_constraints
        if fk.referred_table.name == "contacts"
        for column in fk.columns
        if column.name != "account_id"
    }
    assert found == handled


async def test_reimport_after_merge_resolves_to_the_survivor(world: Seeder) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        imp = await world.row(Import, source="vcard", generation=world.generation)
        record = await world.row(
            ImportRecord,
            import_id=imp,
            source="vcard",
            source_entity_type="contact",
            source_entity_id="uid-b",
            local_entity_type="contact",
            local_entity_id=b,
        )
        await merge(world, a, b)
    row = await world.session.get(ImportRecord, record)
    assert row is not None
    assert row.local_entity_id == a


async def test_candidates_follow_the_merge(world: Seeder) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        x = await world.contact("Xeno", "X")
        y = await world.contact("Yola", "Y")
        z = await world.contact("Zed", "Z")
        dc = DuplicateCandidate

        async def cand(p: int, q: int, status: str = "pending") -> int:
            return int(
                await world.session.scalar(
                    insert(dc)
                    .values(
                        account_id=world.account_id,
                        contact_id=min(p, q),
                        duplicate_contact_id=max(p, q),
                        score=Decimal("0.85"),
                        reasons=["email_match"],
                        status=status,
                    )
                    .returning(dc.id)
                )
                or 0
            )

        ab = await cand(a, b)
        bx = await cand(b, x)
        by = await cand(b, y)
        await cand(a, y)
        bz = await cand(b, z, "dismissed")
        report = await merge(world, a, b)
    world.session.expunge_all()
    rows = {
        r.id: r
        for r in await world.session.scalars(select(dc).where(dc.account_id == world.account_id))
    }
    assert rows[ab].status == "merged"
    assert (rows[bx].contact_id, rows[bx].duplicate_contact_id, rows[bx].status) == (
        min(a, x),
        max(a, x),
        "pending",
    )
    assert rows[bx].score == Decimal("0.85")
    assert rows[by].status == "obsolete"
    assert (rows[bz].status, rows[bz].contact_id) == ("dismissed", min(b, z))
    assert report.candidates == {"merged": [ab], "repointed": [bx], "obsoleted": [by]}


async def test_audit_and_event_carry_names_choices_and_report(world: Seeder) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        c = await world.contact("Carol", "Jones")
        friend = await world.relationship_type("Friend")
        await world.row(
            Relationship, contact_id=b, related_contact_id=c, relationship_type_id=friend
        )
        await world.row(
            Relationship, contact_id=a, related_contact_id=c, relationship_type_id=friend
        )
        merge_id = uuid.uuid4()
        report = await merge(world, a, b, merge_id=merge_id, field_choices={"company": "loser"})
    audit = (
        await world.session.scalars(
            select(AuditLog).where(
                AuditLog.account_id == world.account_id, AuditLog.event == "contacts_merged"
            )
        )
    ).one()
    meta = audit.metadata_
    assert (meta["survivor_name"], meta["loser_name"]) == ("Alice Smith", "Alice S.")
    assert meta["field_choices"] == {"company": "loser"}
    assert meta["report"] == report.as_json()
    assert meta["report"]["dropped"]["relationships"]
    envelopes = (
        await world.session.scalars(
            select(Outbox.envelope).where(
                Outbox.account_id == world.account_id, Outbox.subject == "kith.evt.contacts.merged"
            )
        )
    ).all()
    assert len(envelopes) == 1
    data = envelopes[0]["data"]
    assert data["merge_id"] == str(merge_id)
    assert data["moved"] == report.moved
    assert data["dropped"]["relationships"] == 1
    history = await world.session.get(ContactMerge, merge_id)
    assert history is not None
    assert (history.status, history.report) == ("done", report.as_json())


async def test_preview_counts_and_writes_nothing(world: Seeder) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        await world.row(Note, contact_id=b, body="1")
        await world.row(Note, contact_id=b, body="2")
        await world.address(b, "1 Elm", "1")
    async with world.session.begin():
        report = await preview_merge(
            world.session, account_id=world.account_id, survivor_id=a, loser_id=b
        )
    assert (
        report.moved["notes"],
        report.moved["addresses"],
        report.moved["calls"],
        report.moved["life_events"],
    ) == (2, 1, 0, 0)
    loser = await contact(world, b)
    assert loser.deleted_at is None
    assert await count(world, Note, contact_id=b) == 2


async def test_failure_inside_a_step_changes_nothing(
    world: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world.session.begin():
        a, b = await pair(world)
        await world.row(Note, contact_id=b, body="stays")

    async def explode(*_: Any) -> None:
        raise RuntimeError("injected at step 12")

    monkeypatch.setattr(routine, "_apply_relationships", explode)
    with pytest.raises(RuntimeError):
        async with world.session.begin():
            await merge(world, a, b)
    world.session.expunge_all()
    assert await count(world, Note, contact_id=b) == 1
    assert (await contact(world, b)).deleted_at is None
    assert await count(world, ContactMerge, survivor_id=a) == 0


async def test_older_generation_merge_has_no_effect(world: Seeder) -> None:
    from kith_common.errors import StaleGeneration

    async with world.session.begin():
        a, b = await pair(world)
    with pytest.raises(StaleGeneration):
        async with world.session.begin():
            await merge(world, a, b, generation=world.generation - 1)
    world.session.expunge_all()
    assert (await contact(world, b)).deleted_at is None


@pytest.mark.parametrize(
    ("display_name", "requested", "expected"),
    [
        ("Dana Field", True, "Dana Field"),
        (None, True, "email"),
        ("", True, "email"),
        ("Dana Field", False, "system"),
    ],
    ids=["display-name", "no-name", "empty-name", "no-requester"],
)
async def test_the_audit_entry_names_the_requester(
    world: Seeder, display_name: str | None, requested: bool, expected: str
) -> None:
    async with world.session.begin():
        await world.session.execute(
            update(User).where(User.id == world.user_id).values(display_name=display_name)
        )
        email = await world.session.scalar(select(User.email).where(User.id == world.user_id))
        a, b = await pair(world)
        await merge(world, a, b, requested_by_id=world.user_id if requested else None)
    audit = (
        await world.session.scalars(
            select(AuditLog).where(
                AuditLog.account_id == world.account_id, AuditLog.event == "contacts_merged"
            )
        )
    ).one()
    assert audit.user_name == (email if expected == "email" else expected)
