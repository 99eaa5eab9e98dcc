"""Re-import after a reset (reset.md §10 Isolation and re-import): importer + reset together.

The same fake Monica data imported, the account reset, imported again: the same contacts,
fields, notes, relationships and tags as the first time, every mapping resolves to a row that
exists, and no import-created reference row is created twice.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import resets
from kith_common.accounts import create_account
from kith_common.db.models import (
    Contact,
    ContactFieldType,
    Import,
    ImportRecord,
    Note,
    RelationshipType,
    User,
)
from kith_common.testing import eventually
from kith_common.testing.bus import Harness, drop_streams
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, Fault, generate
from kith_importer.app import build_app as build_importer
from kith_importer.config import ImporterConfig
from kith_importer.testing import KEY, create, snapshot, wait_for
from kith_reset.app import build_app as build_reset
from kith_reset.tuning import Tuning

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def fake() -> FakeMonica:
    world = generate(contacts=30, seed=7, relationship_ratio=0.3, notes_per_contact=1.5)
    return FakeMonica(world)


@pytest.fixture
def server(fake: FakeMonica) -> Iterator[FakeMonicaServer]:
    with FakeMonicaServer(fake) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def services(
    database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path
) -> AsyncIterator[Harness]:
    harness = Harness(database_url, nats_url, stream_prefix)
    settings = harness.settings(
        import_allow_private_hosts=True,
        monica_rate_limit_per_minute=0,
        storage_url=f"file://{tmp_path}",
    )
    config = ImporterConfig.from_settings(
        settings, backoff_base=0.01, max_deliver=3, nack_delays=(0.2,), encryption_key=KEY
    )
    importer = build_importer(settings, config)
    # A worker that died while `cancelling` is forced after 5 s here (60 s in production).
    reset = build_reset(
        settings,
        Tuning.from_settings(
            settings, batch_size=7, cancelling_stale_seconds=5, import_poll_seconds=0.2
        ),
    )
    harness.runtimes += [importer, reset]
    for runtime in harness.runtimes:
        await runtime.start()
    yield harness
    for runtime in harness.runtimes:
        await runtime.stop()
    await drop_streams(nats_url, stream_prefix)


async def _import(sessions: Sessions, account: tuple[int, int], url: str) -> Any:
    import_id = await create(sessions, account, url)
    done = await wait_for(sessions, import_id, timeout=90)
    assert done.status == "completed", done.summary
    return done


async def _dangling_mappings(sessions: Sessions, account_id: int) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(ImportRecord)
                .outerjoin(
                    Contact,
                    (Contact.id == ImportRecord.local_entity_id)
                    & (Contact.account_id == ImportRecord.account_id),
                )
                .where(
                    ImportRecord.account_id == account_id,
                    ImportRecord.local_entity_type == "contact",
                    Contact.id.is_(None),
                )
            )
            or 0
        )


async def _count(sessions: Sessions, model: Any, account_id: int) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(model).where(model.account_id == account_id)
            )
            or 0
        )


async def test_the_same_data_imported_reset_and_imported_again_recreates_everything(
    services: Harness, session_factory: Sessions, server: FakeMonicaServer
) -> None:
    async with session_factory() as session, session.begin():
        acc, user = await create_account(
            session, name="Reimport", email=f"reimport-{uuid.uuid4().hex[:10]}@example.com"
        )
    account = (acc.id, user.id)
    await _import(session_factory, account, server.url)
    first = await snapshot(session_factory, acc.id)
    contacts = await _count(session_factory, Contact, acc.id)
    notes = await _count(session_factory, Note, acc.id)
    own_types = (
        await _count(session_factory, ContactFieldType, acc.id),
        await _count(session_factory, RelationshipType, acc.id),
    )
    assert contacts > 0
    assert notes > 0

    async with session_factory() as session, session.begin():
        admin = await session.get(User, user.id)
        assert admin is not None
        admission = await resets.admit(
            session, account_id=acc.id, user=admin, correlation_id=uuid.uuid4()
        )

    async def completed() -> bool:
        async with session_factory() as session:
            view = await resets.get_reset(session, acc.id, admission.reset_id)
        return view.status == "completed"

    await eventually(completed, timeout=90)
    assert await _count(session_factory, Contact, acc.id) == 0
    assert await _count(session_factory, ImportRecord, acc.id) == 0

    # The one-live-crawl guard is free again: a new import is accepted and runs.
    await _import(session_factory, account, server.url)
    assert await snapshot(session_factory, acc.id) == first
    assert await _count(session_factory, Contact, acc.id) == contacts
    assert await _count(session_factory, Note, acc.id) == notes
    assert await _dangling_mappings(session_factory, acc.id) == 0
    assert (
        await _count(session_factory, ContactFieldType, acc.id),
        await _count(session_factory, RelationshipType, acc.id),
    ) == own_types


async def test_a_crawl_in_flight_at_the_reset_leaves_nothing_behind(
    services: Harness, session_factory: Sessions
) -> None:
    # Three listing pages of 100, so the crawl is mid-listing when the reset arrives.
    fake = FakeMonica(generate(contacts=250, seed=9, partial_ratio=0.0, inactive_ratio=0.0))
    with FakeMonicaServer(fake) as server:
        await _crawl_then_reset(services, session_factory, fake, server)


async def _crawl_then_reset(
    services: Harness, session_factory: Sessions, fake: FakeMonica, server: FakeMonicaServer
) -> None:
    async with session_factory() as session, session.begin():
        acc, user = await create_account(
            session, name="In flight", email=f"flight-{uuid.uuid4().hex[:10]}@example.com"
        )
    page_two = threading.Event()

    def watch(_: FakeMonica, path: str, query: str) -> None:
        if path == "/api/contacts" and "page=2" in query:
            page_two.set()

    fake.on_arrival = watch
    fake.add_fault(Fault("/api/contacts", kind="slow", delay=2.0, page=2))
    import_id = await create(session_factory, (acc.id, user.id), server.url)
    # Page two is read ahead while page one is written, and answers after 2 s: the reset
    # comes while page one's contacts are in and the listing waits for page two.
    assert await asyncio.to_thread(page_two.wait, 60)
    await eventually(lambda: _count(session_factory, Contact, acc.id), timeout=30)
    async with session_factory() as session, session.begin():
        admin = await session.get(User, user.id)
        assert admin is not None
        admission = await resets.admit(
            session, account_id=acc.id, user=admin, correlation_id=uuid.uuid4()
        )

    async def completed() -> bool:
        async with session_factory() as session:
            view = await resets.get_reset(session, acc.id, admission.reset_id)
        return view.status == "completed"

    await eventually(completed, timeout=120)
    # Page two arrives after the bump: its writes fail the fence. Wait until the crawl's
    # message is finished (acked), then nothing of the crawl may be left.
    nc = await nats.connect(services.nats_url)
    try:
        js = nc.jetstream()

        async def crawl_finished() -> bool:
            info = await js.consumer_info(f"{services.prefix}_KITH_CMD", "importer-start")
            return info.num_ack_pending == 0 and info.num_pending == 0

        await eventually(crawl_finished, timeout=60)
    finally:
        await nc.close()
    async with session_factory() as session:
        gone = await session.get(Import, import_id)
    assert gone is None
    assert await _count(session_factory, Contact, acc.id) == 0
    assert await _count(session_factory, ImportRecord, acc.id) == 0
    assert await _count(session_factory, Note, acc.id) == 0
