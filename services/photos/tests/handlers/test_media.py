"""The media consumers over real JetStream: who runs, who does nothing (importer.md §9–§10)."""

from __future__ import annotations

from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence, metrics
from kith_common.bus import outbox
from kith_common.db.models import Photo
from kith_common.db.session import session_factory
from kith_common.events import subjects
from kith_common.events.envelope import Payload
from kith_common.events.payloads.imports import ImportCompleted, ImportOptions
from kith_common.events.payloads.photos import SyncPhotos
from kith_common.events.registry import build_envelope
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.storage import LocalStorage
from kith_common.testing import eventually
from kith_common.testing.bus import Harness
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, World
from kith_common.testing.fake_monica.media import add_photo, png_data_url
from kith_photos import consumers
from kith_photos.testing import FAKE_TOKEN, SeededImport, drained, import_row, seed_import

Sessions = async_sessionmaker[AsyncSession]


async def _publish(
    runtime: Runtime, subject: str, data: Payload, account_id: int, generation: int
) -> None:
    """Queue a message as its producer would (the importer, dedup, the gateway): through a
    session of the same deployment that is not the photos service's, which may publish only
    its own subjects."""
    envelope = build_envelope(subject, data, account_id=account_id, generation=generation)
    producer = session_factory(runtime.engine, stream_prefix=runtime.settings.stream_prefix)
    async with producer() as session, session.begin():
        await outbox.add(session, subject, envelope)


def _completed(seeded: SeededImport, **options: Any) -> ImportCompleted:
    return ImportCompleted(
        import_id=seeded.import_id,
        source="monica_api",
        options=ImportOptions(**{"photos": True, **options}),
        counts={},  # type: ignore[arg-type]  # defaults
    )


async def _seed(
    world: World, monica: FakeMonicaServer, sessions: Sessions, settings: Settings, **kw: Any
) -> SeededImport:
    contact = world.add_contact(first_name="H")
    add_photo(world, contact_id=contact.id, data=png_data_url((9, 9, 1)))
    return await seed_import(
        sessions,
        api_url=monica.url,
        api_key=FAKE_TOKEN,
        monica_contacts=[contact.id],
        encryption_key=settings.encryption_key(),
        **kw,
    )


async def _photo_count(sessions: Sessions, account_id: int) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Photo).where(Photo.account_id == account_id)
        )
    return int(count or 0)


async def test_import_completed_runs_the_media_phase(
    world: World,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    settings: Settings,
    photos_runtime: Runtime,
) -> None:
    seeded = await _seed(world, monica, session_factory, settings)
    await _publish(
        photos_runtime,
        subjects.IMPORT_COMPLETED,
        _completed(seeded),
        seeded.account_id,
        seeded.generation,
    )

    async def completed() -> bool:
        return (await import_row(session_factory, seeded.import_id)).media_status == "completed"

    await eventually(completed, timeout=20)
    assert await _photo_count(session_factory, seeded.account_id) == 1


async def test_follow_up_of_an_older_generation_writes_nothing(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    settings: Settings,
    photos_runtime: Runtime,
    harness: Harness,
    js: JetStreamContext,
) -> None:
    seeded = await _seed(world, monica, session_factory, settings)
    async with session_factory() as session, session.begin():
        await fence.bump(session, seeded.account_id)  # the account was reset since
    stale = metrics.MESSAGES_HANDLED.labels(consumers.IMPORT_COMPLETED.durable, "stale")
    before = stale._value.get()
    await _publish(
        photos_runtime,
        subjects.IMPORT_COMPLETED,
        _completed(seeded),
        seeded.account_id,
        seeded.generation,
    )

    await eventually(lambda: stale._value.get() > before, timeout=20)
    assert await drained(js, harness.prefix, "KITH_EVT", consumers.IMPORT_COMPLETED.durable)
    assert fake.count("/api/photos") == 0
    assert await _photo_count(session_factory, seeded.account_id) == 0
    assert (await import_row(session_factory, seeded.import_id)).media_status == "pending"


async def test_sync_command_of_a_cancelled_import_does_nothing(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    settings: Settings,
    photos_runtime: Runtime,
    harness: Harness,
    js: JetStreamContext,
) -> None:
    seeded = await _seed(world, monica, session_factory, settings, media_status="cancelled")
    ok = metrics.MESSAGES_HANDLED.labels(consumers.SYNC_COMMAND.durable, "ok")
    before = ok._value.get()
    await _publish(
        photos_runtime,
        subjects.PHOTOS_SYNC,
        SyncPhotos(import_id=seeded.import_id),
        seeded.account_id,
        seeded.generation,
    )

    await eventually(lambda: ok._value.get() > before, timeout=20)
    assert fake.count("/api/photos") == 0
    assert await _photo_count(session_factory, seeded.account_id) == 0
    assert (await import_row(session_factory, seeded.import_id)).media_status == "cancelled"


async def test_import_without_photos_or_documents_sends_no_request(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    settings: Settings,
    photos_runtime: Runtime,
) -> None:
    seeded = await _seed(world, monica, session_factory, settings, media_status=None)
    ok = metrics.MESSAGES_HANDLED.labels(consumers.IMPORT_COMPLETED.durable, "ok")
    before = ok._value.get()
    await _publish(
        photos_runtime,
        subjects.IMPORT_COMPLETED,
        _completed(seeded, photos=False),
        seeded.account_id,
        seeded.generation,
    )

    await eventually(lambda: ok._value.get() > before, timeout=20)
    assert fake.count("/api/photos") == 0
    assert fake.log == []


async def test_merge_deletes_dropped_files_but_never_a_live_one(
    session_factory: Sessions,
    photos_runtime: Runtime,
    storage: LocalStorage,
    world: World,
    monica: FakeMonicaServer,
    settings: Settings,
) -> None:
    import uuid

    from kith_common.events.payloads.contacts import ContactsMerged

    seeded = await _seed(world, monica, session_factory, settings, media_status=None)
    prefix = f"a/{seeded.account_id}/photos/"
    dropped, live, foreign = prefix + "dropped.png", prefix + "live.png", "a/999999/photos/x.png"
    for key in (dropped, live, foreign):
        await storage.put(key, b"img")
    contact_id = next(iter(seeded.contacts.values()))
    async with session_factory() as session, session.begin():
        session.add(
            Photo(
                account_id=seeded.account_id,
                contact_id=contact_id,
                storage_key=live,
                content_type="image/png",
                size_bytes=3,
                content_hash="1" * 64,
            )
        )
    await _publish(
        photos_runtime,
        subjects.CONTACTS_MERGED,
        ContactsMerged(
            merge_id=uuid.uuid4(),
            survivor_id=contact_id,
            loser_id=contact_id + 1,
            source="api",
            import_id=None,
            moved={},
            dropped={"photos": 1},
            dropped_photo_storage_keys=[dropped, live, foreign],
        ),
        seeded.account_id,
        seeded.generation,
    )

    async def gone() -> bool:
        return not await storage.exists(dropped)

    await eventually(gone, timeout=20)
    assert await storage.exists(live)
    assert await storage.exists(foreign)
