"""Cancel mid-crawl, auto-merge through the shared merge routine, and the connection check."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import imports
from kith_common.db.models import (
    Contact,
    Import,
    ImportConnectionCheck,
    Note,
    Outbox,
    Relationship,
)
from kith_common.events import subjects
from kith_common.service import Runtime
from kith_common.testing import eventually
from kith_common.testing.fake_monica import (
    FakeMonica,
    FakeMonicaServer,
    Fault,
    World,
    generate,
)
from kith_importer.testing import KEY, check_connection, create, wait_for

Sessions = async_sessionmaker[AsyncSession]


async def _events(sessions: Sessions, account_id: int, subject: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Outbox.envelope).where(
                Outbox.account_id == account_id, Outbox.subject == subject
            )
        )
        return list(rows.all())


@pytest.fixture
def world() -> World:
    return generate(contacts=300, seed=4, partial_ratio=0.0, inactive_ratio=0.0)


async def test_cancel_mid_listing_stops_before_writing_more_and_wipes_the_key(
    importer: Runtime,
    fake: FakeMonica,
    server: FakeMonicaServer,
    session_factory: Sessions,
    account: tuple[int, int],
) -> None:
    page_two = threading.Event()

    def watch(_: FakeMonica, path: str, query: str) -> None:
        if path == "/api/contacts" and "page=2" in query:
            page_two.set()

    fake.on_arrival = watch
    fake.add_fault(Fault("/api/contacts", kind="slow", delay=2.0, page=2))
    import_id = await create(session_factory, account, server.url, options={"photos": True})
    # Page two is read ahead while page one is written and answers after 2 s: cancel once
    # page one's first contacts are in, while the listing has page two still to come.
    assert await asyncio.to_thread(page_two.wait, 60)
    await eventually(lambda: _contacts(session_factory, account[0]), timeout=30)
    async with session_factory() as session, session.begin():
        await imports.request_cancel(session, account_id=account[0], import_id=import_id)
    async with session_factory() as session:
        cancelled_at = await session.scalar(select(func.clock_timestamp()))
    row = await wait_for(session_factory, import_id, ("cancelled",))
    assert row.api_key_encrypted is None
    assert (row.misc_status, row.media_status) == ("cancelled", "cancelled")
    async with session_factory() as session:
        contacts = await session.scalar(
            select(func.count()).where(Contact.account_id == account[0])
        )
        newest = await session.scalar(
            select(func.max(Contact.created_at)).where(Contact.account_id == account[0])
        )
    assert contacts is not None
    assert 0 < contacts <= 100
    assert newest is not None
    assert cancelled_at is not None
    assert newest <= cancelled_at
    assert row.summary["contacts"] == contacts
    assert await _events(session_factory, account[0], subjects.IMPORT_COMPLETED) == []
    [event] = await _events(session_factory, account[0], subjects.IMPORT_CANCELLED)
    assert event["data"]["cancelled_in_phase"] == "listing"
    assert event["data"]["counts"]["contacts"] == contacts


async def test_cancel_while_pending_makes_the_late_start_a_no_op(
    importer: Runtime,
    fake: FakeMonica,
    server: FakeMonicaServer,
    session_factory: Sessions,
    account: tuple[int, int],
) -> None:
    async with session_factory() as session, session.begin():
        row = await imports.create_import(
            session,
            account_id=account[0],
            user_id=account[1],
            encryption_key=KEY,
            api_url=server.url,
            api_key="test-token",
        )
        await imports.request_cancel(session, account_id=account[0], import_id=row.id)
    start_sent = await _events(session_factory, account[0], subjects.IMPORT_START)
    assert len(start_sent) == 1

    async def start_consumed() -> bool:
        async with session_factory() as session:
            from kith_common.db.models import Inbox

            return (
                await session.scalar(
                    select(func.count()).where(Inbox.message_id == uuid.UUID(start_sent[0]["id"]))
                )
            ) == 1

    from kith_common.testing import eventually

    await eventually(start_consumed, timeout=30)
    async with session_factory() as session:
        again = await session.get(Import, row.id)
    assert again is not None
    assert again.status == "cancelled"
    assert fake.stats()["total"] == 0


def _pair_world(*, first_email: str, second_email: str, phone: str | None = None) -> World:
    world = World(seed=3)
    world.add_user("test-token")
    fields_a = [{"id": 1, "type_id": 1, "content": first_email, "labels": []}]
    fields_b = [{"id": 2, "type_id": 1, "content": second_email, "labels": []}]
    if phone:
        fields_a.append({"id": 3, "type_id": 2, "content": phone, "labels": []})
        fields_b.append({"id": 4, "type_id": 2, "content": phone, "labels": []})
    world.add_contact(
        id=1, first_name="Ann", last_name="Lee", fields=fields_a, created_at="2021-01-01T00:00:00Z"
    )
    world.add_contact(
        id=2,
        first_name=" ann ",
        last_name="LEE",
        fields=fields_b,
        created_at="2021-01-02T00:00:00Z",
    )
    world.add_item("notes", body="note one", contact_id=1, created_at="2022-01-01T00:00:00Z")
    world.add_item("notes", body="note two", contact_id=2, created_at="2022-01-02T00:00:00Z")
    return world


@pytest.mark.parametrize(
    ("options", "merged"), [({}, 1), ({"auto_merge_duplicates": False}, 0)], ids=["default", "off"]
)
async def test_same_name_and_email_merge_into_the_earlier_contact_unless_turned_off(
    importer: Runtime,
    session_factory: Sessions,
    account: tuple[int, int],
    options: dict[str, Any],
    merged: int,
) -> None:
    fake = FakeMonica(_pair_world(first_email="ann@x.org", second_email="ANN@x.org "))
    with FakeMonicaServer(fake) as server:
        import_id = await create(session_factory, account, server.url, options=options)
        row = await wait_for(session_factory, import_id)
    assert row.summary["merged"] == merged
    async with session_factory() as session:
        live = (
            await session.scalars(
                select(Contact).where(
                    Contact.account_id == account[0], Contact.merged_into_id.is_(None)
                )
            )
        ).all()
        notes = (
            await session.scalars(select(Note.body).where(Note.account_id == account[0]))
        ).all()
    assert len(live) == 2 - merged
    events = await _events(session_factory, account[0], subjects.CONTACTS_MERGED)
    assert len(events) == merged
    if merged:
        survivor = live[0]
        assert survivor.first_name == "Ann"  # the earlier contact survives
        assert events[0]["data"]["source"] == "auto_merge"
        async with session_factory() as session:
            kept = (
                await session.scalars(select(Note.body).where(Note.contact_id == survivor.id))
            ).all()
        assert sorted(kept) == ["note one", "note two"]
    assert sorted(notes) == ["note one", "note two"]


async def test_different_emails_and_a_shared_garbage_phone_do_not_merge(
    importer: Runtime, session_factory: Sessions, account: tuple[int, int]
) -> None:
    fake = FakeMonica(_pair_world(first_email="a@x.org", second_email="b@x.org", phone="12"))
    with FakeMonicaServer(fake) as server:
        import_id = await create(session_factory, account, server.url)
        row = await wait_for(session_factory, import_id)
    assert row.summary["merged"] == 0


def _three_anns_world() -> World:
    """Ann 2 shares Ann 1's email; Ann 3 shares only Ann 2's phone, written differently."""
    world = _pair_world(first_email="a@x.org", second_email="a@x.org")
    world.contacts[2].fields.append(
        {"id": 5, "type_id": 2, "content": "+1 202 555 0100", "labels": []}
    )
    world.add_contact(
        id=3,
        first_name="Ann",
        last_name="Lee",
        created_at="2021-01-03T00:00:00Z",
        fields=[{"id": 6, "type_id": 2, "content": "+1 (202) 555-0100", "labels": []}],
    )
    return world


async def test_email_then_phone_links_merge_three_into_one(
    importer: Runtime, session_factory: Sessions, account: tuple[int, int]
) -> None:
    world = _three_anns_world()
    fake = FakeMonica(world)
    with FakeMonicaServer(fake) as server:
        import_id = await create(session_factory, account, server.url)
        row = await wait_for(session_factory, import_id)
    assert row.summary["merged"] == 2
    async with session_factory() as session:
        live = await session.scalar(
            select(func.count()).where(
                Contact.account_id == account[0], Contact.merged_into_id.is_(None)
            )
        )
    assert live == 1


async def test_references_to_merged_contacts_and_a_reimport_land_on_the_survivor(
    importer: Runtime, session_factory: Sessions, account: tuple[int, int]
) -> None:
    """Three Anns merge into one (2 by email, 3 by phone); Zed names 2 and 3 as friends and met
    through 3. Every reference, and a second import of the same Monica, reaches the survivor:
    the merges move the losers' mappings to it (dedup.md, merge step 14), and a mapping that
    still names a loser is followed through `merged_into_id` (importer.md §7.2)."""
    world = _three_anns_world()
    zed = world.add_contact(
        id=4, first_name="Zed", last_name="Roe", created_at="2021-01-04T00:00:00Z"
    )
    zed.first_met_through_id = 3
    world.relate(4, "friend", 2)
    world.relate(4, "bestfriend", 3)
    fake = FakeMonica(world)

    async def state() -> tuple[int, list[int], int | None, int]:
        async with session_factory() as session:
            live = (
                await session.scalars(
                    select(Contact.id).where(
                        Contact.account_id == account[0],
                        Contact.merged_into_id.is_(None),
                        Contact.first_name == "Ann",
                    )
                )
            ).all()
            zed_row = await session.scalar(
                select(Contact).where(Contact.account_id == account[0], Contact.first_name == "Zed")
            )
            assert zed_row is not None
            pairs = (
                await session.execute(
                    select(Relationship.contact_id, Relationship.related_contact_id).where(
                        Relationship.account_id == account[0],
                        (Relationship.contact_id == zed_row.id)
                        | (Relationship.related_contact_id == zed_row.id),
                    )
                )
            ).all()
            # A symmetric type is stored once per pair, from either side.
            related = [b if a == zed_row.id else a for a, b in pairs]
            total = await session.scalar(
                select(func.count()).where(Contact.account_id == account[0])
            )
        assert len(live) == 1, live
        return live[0], sorted(related), zed_row.first_met_through_id, int(total or 0)

    with FakeMonicaServer(fake) as server:
        first = await wait_for(session_factory, await create(session_factory, account, server.url))
        assert first.summary["merged"] == 2, first.summary
        survivor, related, met, total = await state()
        assert related == [survivor, survivor]
        assert met == survivor
        again = await wait_for(session_factory, await create(session_factory, account, server.url))
    assert again.status == "completed", again.summary
    assert again.summary["created"] == 0
    assert await state() == (survivor, related, met, total)


async def _check(
    importer: Runtime, session_factory: Sessions, account: tuple[int, int], url: str, key: str
) -> dict[str, Any]:
    check_id, reply = await check_connection(importer, session_factory, account, url, key)
    async with session_factory() as session:
        assert await session.get(ImportConnectionCheck, check_id) is None  # taken once
    return reply


async def test_connection_check_answers_ok_rejected_and_web_page(
    importer: Runtime,
    fake: FakeMonica,
    server: FakeMonicaServer,
    session_factory: Sessions,
    account: tuple[int, int],
) -> None:
    good = await _check(importer, session_factory, account, server.url, "test-token")
    assert good["ok"] is True
    assert good["monica_user"]["name"] == "Ada Lovelace"
    bad = await _check(importer, session_factory, account, server.url, "wrong-key")
    assert (bad["ok"], bad["code"]) == (False, "invalid_key")
    assert "rejected" in bad["message"]
    assert "wrong-key" not in bad["message"]
    fake.add_fault(Fault("/api/me", kind="login_page"))
    page = await _check(importer, session_factory, account, server.url, "test-token")
    assert (page["ok"], page["code"]) == (False, "not_monica")
    assert "web page" in page["message"]


async def _contacts(sessions: Sessions, account_id: int) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).where(Contact.account_id == account_id)) or 0
        )
