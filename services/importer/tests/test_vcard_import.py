"""vCard import (importer.md §12, §15 items 36–37): cards → contacts, bad cards reported."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import imports
from kith_common.db.models import Address, Contact, ContactField, Import, Note, Outbox
from kith_common.events import subjects
from kith_common.service import Runtime
from kith_common.storage import account_prefix, open_storage
from kith_common.testing.bus import Harness
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


@pytest_asyncio.fixture(loop_scope="session")
async def vcard_importer(harness: Harness, tmp_path: Path) -> tuple[Runtime, str]:
    url = f"file://{tmp_path}"
    settings = harness.settings(storage_url=url)
    config = ImporterConfig.from_settings(
        settings, max_deliver=3, nack_delays=(0.2,), encryption_key=KEY
    )
    runtime = build_app(settings, config)
    harness.runtimes.append(runtime)
    await runtime.start()
    return runtime, url


async def _upload(
    sessions: Sessions,
    account: tuple[int, int],
    url: str,
    data: bytes,
    options: dict[str, Any] | None = None,
) -> int:
    key = f"{account_prefix(account[0])}imports/{uuid.uuid4()}.vcf"
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
            file_size=len(data),
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
