"""vCard upload → auto-merge (on) or a pending duplicate (off), importer and dedup running
(issue 18; importer.md §12: the option defaults to on)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import imports
from kith_common.accounts import create_account
from kith_common.db.models import Contact, ContactMerge, DuplicateCandidate
from kith_common.storage import account_prefix, open_storage
from kith_common.testing import eventually
from kith_common.testing.bus import Harness, drop_streams
from kith_dedup.app import build_app as build_dedup
from kith_importer.app import build_app as build_importer
from kith_importer.config import ImporterConfig
from kith_importer.testing import KEY, wait_for

Sessions = async_sessionmaker[AsyncSession]

# Two cards of one person: same name, the same email typed differently.
ONE_PERSON_TWICE = (
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann-home\r\nN:Lee;Ann;;;\r\nFN:Ann Lee\r\n"
    b"EMAIL:ann@example.com\r\nTEL:+44 20 7946 0958\r\nEND:VCARD\r\n"
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann-work\r\nN:Lee;Ann;;;\r\nFN:Ann Lee\r\n"
    b"EMAIL: ANN@Example.com\r\nORG:Acme\r\nEND:VCARD\r\n"
)


@pytest_asyncio.fixture(loop_scope="session")
async def services(
    database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path
) -> AsyncIterator[str]:
    """Importer and dedup on one stream prefix; yields the storage URL."""
    harness = Harness(database_url, nats_url, stream_prefix)
    url = f"file://{tmp_path}"
    settings = harness.settings(storage_url=url)
    config = ImporterConfig.from_settings(
        settings, max_deliver=3, nack_delays=(0.2,), encryption_key=KEY
    )
    for runtime in (build_importer(settings, config), build_dedup(settings)):
        harness.runtimes.append(runtime)
        await runtime.start()
    yield url
    for runtime in harness.runtimes:
        await runtime.stop()
    await drop_streams(nats_url, stream_prefix)


async def _import(sessions: Sessions, url: str, auto_merge: bool) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        account, user = await create_account(
            session, name="vCard", email=f"vc-{uuid.uuid4().hex[:10]}@example.com"
        )
    key = f"{account_prefix(account.id)}imports/{uuid.uuid4()}.vcf"
    await open_storage(url).put(key, ONE_PERSON_TWICE)
    async with sessions() as session, session.begin():
        row = await imports.create_import(
            session,
            account_id=account.id,
            user_id=user.id,
            encryption_key=KEY,
            source="vcard",
            options={"auto_merge_duplicates": auto_merge},
            file_name="ann.vcf",
            file_size=len(ONE_PERSON_TWICE),
            file_storage_key=key,
        )
    done = await wait_for(sessions, row.id)
    assert done.status == "completed", done.error
    return account.id, row.id


async def _rows(sessions: Sessions, model: Any, account_id: int) -> list[Any]:
    async with sessions() as session:
        found = await session.scalars(select(model).where(model.account_id == account_id))
        return list(found)


async def test_auto_merge_on_merges_and_off_leaves_a_pending_candidate(
    services: str, session_factory: Sessions
) -> None:
    account, import_id = await _import(session_factory, services, auto_merge=True)
    live = [c for c in await _rows(session_factory, Contact, account) if c.deleted_at is None]
    assert len(live) == 1
    assert live[0].display_name == "Ann Lee"
    merges = await _rows(session_factory, ContactMerge, account)
    assert [(m.source, m.import_id, m.status) for m in merges] == [
        ("auto_merge", import_id, "done")
    ]

    account, _ = await _import(session_factory, services, auto_merge=False)
    contacts = await _rows(session_factory, Contact, account)
    assert len([c for c in contacts if c.deleted_at is None]) == 2

    async def candidate() -> list[Any]:
        return await _rows(session_factory, DuplicateCandidate, account)

    pairs = await eventually(candidate, timeout=30)
    assert [p.status for p in pairs] == ["pending"]
    assert set(pairs[0].reasons) == {"name_match", "email_match"}
    assert pairs[0].evidence["email"]["outcome"] == "agree"
    assert pairs[0].confidence > 0.9
    assert await _rows(session_factory, ContactMerge, account) == []
