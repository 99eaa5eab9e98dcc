"""vCard import (importer.md §12, §15 items 36–37): cards → contacts, bad cards reported."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import imports
from kith_common.db.models import (
    Address,
    Contact,
    ContactField,
    Import,
    ImportRecord,
    Inbox,
    Note,
    Outbox,
)
from kith_common.events import subjects
from kith_common.metrics import REGISTRY
from kith_common.service import Runtime
from kith_common.storage import account_prefix, open_storage
from kith_common.testing.bus import Harness
from kith_common.testing.plugin import eventually
from kith_importer.app import build_app
from kith_importer.config import ImporterConfig
from kith_importer.testing import KEY, wait_for

Sessions = async_sessionmaker[AsyncSession]

CARDS = (
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann-1\r\nN:Lee;Ann;;;\r\nFN:Ann Lee\r\n"
    b"ORG:Acme\r\nTITLE:Engineer\r\nBDAY:--0714\r\n"
    b"EMAIL;TYPE=INTERNET,WORK:ann@example.com\r\nTEL;TYPE=CELL:(202) 555-0100\r\n"
    b"ADR;TYPE=HOME:;;1 Main St;Springfield;IL;62701;US\r\n"
    b"NOTE:met at the long\r\n  conference\r\nEND:VCARD\r\n"
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:broken\r\nthis line is not a property\r\nEND:VCARD\r\n"
    b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:M\xfcller;J\xfcrgen\r\nTEL:+44 20 7946 0958\r\n"
    b"NOTE;ENCODING=QUOTED-PRINTABLE:Gr=C3=BC=\r\nsse\r\nEND:VCARD\r\n"
)


MAX_CARDS = 40


def _tiny(n: int, *, uid: dict[int, str] | None = None) -> bytes:
    """`n` small cards; `uid` gives some of them (by index) a UID."""
    cards = []
    for i in range(n):
        extra = f"UID:{uid[i]}\r\n" if uid and i in uid else ""
        cards.append(f"BEGIN:VCARD\r\nVERSION:3.0\r\n{extra}N:P{i};Q{i};;;\r\nEND:VCARD\r\n")
    return "".join(cards).encode()


@pytest_asyncio.fixture(loop_scope="session")
async def vcard_importer(harness: Harness, tmp_path: Path) -> tuple[Runtime, str]:
    url = f"file://{tmp_path}"
    settings = harness.settings(storage_url=url)
    config = ImporterConfig.from_settings(
        settings, max_deliver=3, nack_delays=(1.0,), encryption_key=KEY, vcard_max_cards=MAX_CARDS
    )
    runtime = build_app(settings, config)
    harness.runtimes.append(runtime)
    await runtime.start()
    return runtime, url


async def _upload(
    sessions: Sessions,
    account: tuple[int, int],
    url: str,
    data: bytes | None,
    options: dict[str, Any] | None = None,
    *,
    key: str | None = None,
) -> int:
    key = key or f"{account_prefix(account[0])}imports/{uuid.uuid4()}.vcf"
    if data is not None:
        await open_storage(url).put(key, data)
    async with sessions() as session, session.begin():
        row = await imports.create_import(
            session,
            account_id=account[0],
            user_id=account[1],
            encryption_key=KEY,
            source="vcard",
            options=options or {},
            file_name="cards.vcf",
            file_size=len(data or b""),
            file_storage_key=key,
        )
    return row.id


async def test_good_cards_import_and_each_bad_card_is_reported_with_its_line(
    vcard_importer: tuple[Runtime, str], session_factory: Sessions, account: tuple[int, int]
) -> None:
    _, url = vcard_importer
    import_id = await _upload(session_factory, account, url, CARDS, {"phone_default_region": "US"})
    row = await wait_for(session_factory, import_id)
    assert row.status == "completed", row.error
    assert row.summary["contacts"] == 2
    assert row.summary["errors"] == [
        "card at line 15: Failed to parse line: this line is not a property"
    ]
    assert row.summary["latin1_fallback"] is True
    async with session_factory() as s:
        people = {
            c.first_name: c
            for c in await s.scalars(select(Contact).where(Contact.account_id == account[0]))
        }
        assert set(people) == {"Ann", "Jürgen"}
        ann = people["Ann"]
        assert (ann.last_name, ann.company, ann.job_title) == ("Lee", "Acme", "Engineer")
        assert ann.birthdate is not None
        assert (ann.birthdate.month, ann.birthdate.day, ann.birthdate_year_unknown) == (7, 14, True)
        values = {
            f.value
            for f in await s.scalars(
                select(ContactField).where(ContactField.account_id == account[0])
            )
        }
        assert values == {"ann@example.com", "+12025550100", "+442079460958"}
        address = (await s.scalars(select(Address).where(Address.contact_id == ann.id))).one()
        assert (address.line1, address.city, address.postal_code) == (
            "1 Main St",
            "Springfield",
            "62701",
        )
        notes = {n.body for n in await s.scalars(select(Note).where(Note.account_id == account[0]))}
        assert notes == {"met at the long conference", "Grüsse"}
        completed = await s.scalar(
            select(Outbox.envelope).where(
                Outbox.account_id == account[0], Outbox.subject == subjects.IMPORT_COMPLETED
            )
        )
    assert completed is not None  # so dedup scans the new contacts
    assert completed["data"]["source"] == "vcard"


async def test_the_same_file_twice_creates_no_duplicates(
    vcard_importer: tuple[Runtime, str], session_factory: Sessions, account: tuple[int, int]
) -> None:
    _, url = vcard_importer
    for _ in range(2):
        row = await wait_for(session_factory, await _upload(session_factory, account, url, CARDS))
        assert row.status == "completed"
    async with session_factory() as s:
        contacts = (
            await s.scalars(select(Contact.id).where(Contact.account_id == account[0]))
        ).all()
        fields = (
            await s.scalars(select(ContactField.id).where(ContactField.account_id == account[0]))
        ).all()
    assert len(contacts) == 2
    assert len(fields) == 3


async def test_a_file_without_any_readable_card_fails_with_a_reason(
    vcard_importer: tuple[Runtime, str], session_factory: Sessions, account: tuple[int, int]
) -> None:
    _, url = vcard_importer
    row = await wait_for(
        session_factory, await _upload(session_factory, account, url, b"hello\nworld\n")
    )
    assert row.status == "failed"
    assert row.error is not None
    assert "no readable card" in row.error
    async with session_factory() as s:
        final = await s.get(Import, row.id)
    assert final is not None
    assert final.api_key_encrypted is None


async def test_a_file_over_the_card_cap_fails_before_any_contact_is_written(
    vcard_importer: tuple[Runtime, str], session_factory: Sessions, account: tuple[int, int]
) -> None:
    _, url = vcard_importer
    import_id = await _upload(session_factory, account, url, _tiny(MAX_CARDS + 1))
    row = await wait_for(session_factory, import_id)
    assert row.status == "failed"
    assert row.error == (
        f"the file holds {MAX_CARDS + 1} cards; at most {MAX_CARDS} are imported from one file "
        "(split it, or raise KITH_VCARD_MAX_CARDS)"
    )
    async with session_factory() as s:
        assert await s.scalar(select(Contact.id).where(Contact.account_id == account[0])) is None


def _retried() -> float:
    """Deliveries of the importer's start command that were nacked for a retry, so far."""
    total = 0.0
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            labels = sample.labels
            if (
                sample.name == "kith_bus_messages_handled_total"
                and labels.get("outcome") == "retried"
                and labels.get("consumer", "").endswith("importer-start")
            ):
                total += sample.value
    return total


async def test_a_storage_error_is_retried_and_the_import_then_completes(
    vcard_importer: tuple[Runtime, str],
    session_factory: Sessions,
    account: tuple[int, int],
    tmp_path: Path,
) -> None:
    _, url = vcard_importer
    key = f"{account_prefix(account[0])}imports/{uuid.uuid4()}.vcf"
    unreadable = tmp_path / key
    unreadable.mkdir(parents=True)  # reading it fails with an OSError that is not "missing"
    before = _retried()
    import_id = await _upload(session_factory, account, url, None, key=key)
    await eventually(lambda: _retried() > before, what="the failed read was nacked")
    unreadable.rmdir()
    await open_storage(url).put(key, CARDS)
    row = await wait_for(session_factory, import_id)
    assert row.status == "completed", row.error
    assert row.summary["contacts"] == 2


async def test_a_worker_that_lost_its_lease_stops_writing(
    vcard_importer: tuple[Runtime, str], session_factory: Sessions, account: tuple[int, int]
) -> None:
    """Another worker owns the import once it took the stale lease: we must not write on."""
    _, url = vcard_importer
    first = await wait_for(
        session_factory,
        await _upload(session_factory, account, url, _tiny(1, uid={0: "held"})),
    )
    assert first.status == "completed"
    async with session_factory() as s:
        held = await s.scalar(select(Contact.id).where(Contact.account_id == account[0]))
    # Card 14 (the second step) updates the contact the test holds locked, so the worker
    # cannot get past that step until the test has taken the lease over.
    async with session_factory() as locker, locker.begin():
        await locker.execute(select(Contact.id).where(Contact.id == held).with_for_update())
        import_id = await _upload(session_factory, account, url, _tiny(30, uid={14: "held"}))

        async def checkpointed() -> bool:
            async with session_factory() as s:
                row = await s.get(Import, import_id)
                return row is not None and (row.checkpoint or {}).get("card") == 10

        await eventually(checkpointed, what="the first step committed")

        async def take_over() -> None:
            async with session_factory() as s, s.begin():
                await s.execute(
                    update(Import)
                    .where(Import.id == import_id)
                    .values(lease_owner="elsewhere:1:other", heartbeat_at=func.now())
                )

        taking = asyncio.create_task(take_over())
    await taking
    async with session_factory() as s:
        start_id = await s.scalar(
            select(Outbox.envelope["id"].astext).where(
                Outbox.subject == subjects.IMPORT_START,
                Outbox.envelope["data"]["import_id"].as_integer() == import_id,
            )
        )

    async def handled() -> bool:
        async with session_factory() as s:
            found = await s.scalar(select(Inbox.message_id).where(Inbox.message_id == start_id))
            return found is not None

    await eventually(handled, what="the start command was acked")
    async with session_factory() as s:
        row = await s.get(Import, import_id)
        assert row is not None
        written = await s.scalar(
            select(func.count())
            .select_from(ImportRecord)
            .where(ImportRecord.import_id == import_id)
        )
    assert row.status == "processing"
    assert row.lease_owner == "elsewhere:1:other"
    assert row.checkpoint["card"] in (10, 20)
    assert written == row.checkpoint["card"]  # nothing past the last step it owned
