"""The media phase against the fake Monica over real HTTP, real PostgreSQL and a real directory."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import aiobotocore.session
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence, imports
from kith_common.db.models import Contact, Document, ImportRecord, Photo
from kith_common.errors import StaleGeneration, Transient
from kith_common.events import subjects
from kith_common.monica.client import MonicaClient, origin_of
from kith_common.monica.ratelimit import RateLimiter, bucket_key
from kith_common.monica.urls import api_root
from kith_common.storage import LocalStorage
from kith_common.storage.s3 import S3Storage
from kith_common.testing import eventually
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, Fault, World, png_bytes
from kith_common.testing.fake_monica.media import (
    FileHost,
    HostedFile,
    add_document,
    add_photo,
    data_url,
    png_data_url,
)
from kith_photos import queries
from kith_photos.downloads import LOGIN_PAGE_MESSAGE
from kith_photos.metrics import ITEMS
from kith_photos.sync import run_media_phase
from kith_photos.testing import FAKE_TOKEN as TOKEN
from kith_photos.testing import (
    SeededImport,
    direct_env,
    import_row,
    outbox_types,
    seed_import,
    set_media_status,
    test_limits,
)

Sessions = async_sessionmaker[AsyncSession]


async def _run(
    sessions: Sessions, storage: LocalStorage, seeded: SeededImport, **limits: Any
) -> str:
    env = direct_env(
        sessions,
        storage,
        test_limits(**limits),
        account_id=seeded.account_id,
        generation=seeded.generation,
    )
    return await run_media_phase(
        env, import_id=seeded.import_id, generation=seeded.generation, last_attempt=False
    )


async def _photos(sessions: Sessions, account_id: int) -> list[Photo]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Photo).where(Photo.account_id == account_id).order_by(Photo.id)
        )
        return list(rows.all())


def _files(storage: LocalStorage, account_id: int) -> list[str]:
    return [k for k in storage._list(f"a/{account_id}/") if "/." not in k]


def _reasons(summary: dict[str, Any]) -> dict[int | None, tuple[str, str | None]]:
    return {e["monica_id"]: (e["status"], e["reason"]) for e in summary["entries"]}


async def test_photo_outcomes_follow_the_spec_reasons(
    world: World, monica: FakeMonicaServer, session_factory: Sessions, storage: LocalStorage
) -> None:
    ann, ben, gone, unmapped = (world.add_contact(first_name=n) for n in ("A", "B", "C", "D"))
    image = png_bytes((10, 20, 30))
    good = add_photo(world, contact_id=ann.id, data=data_url(image))
    twin = add_photo(world, contact_id=ann.id, data=data_url(image))
    same_on_other = add_photo(world, contact_id=ben.id, data=data_url(image))
    no_url = add_photo(world, contact_id=ann.id, data=None)
    corrupt = add_photo(world, contact_id=ann.id, data="data:image/png;base64,@@not-base64@@")
    not_image = add_photo(world, contact_id=ann.id, data=data_url(b"plain text, no image"))
    stranger = add_photo(world, contact_id=unmapped.id, data=png_data_url((1, 2, 3)))
    orphan = add_photo(world, contact_id=None, data=png_data_url((4, 5, 6)))
    deleted = add_photo(world, contact_id=gone.id, data=png_data_url((7, 8, 9)))
    seeded = await seed_import(
        session_factory,
        api_url=monica.url,
        api_key=TOKEN,
        monica_contacts=[ann.id, ben.id, gone.id],
    )
    async with session_factory() as session, session.begin():
        await session.execute(
            update(Contact)
            .where(Contact.id == seeded.contacts[gone.id])
            .values(deleted_at=func.now())
        )

    synced_metric = ITEMS.labels("photo", "synced", "")
    no_url_metric = ITEMS.labels("photo", "failed", "no_data_url")
    synced_before, no_url_before = synced_metric._value.get(), no_url_metric._value.get()

    assert await _run(session_factory, storage, seeded) == "completed"

    assert synced_metric._value.get() - synced_before == 2
    assert no_url_metric._value.get() - no_url_before == 1
    row = await import_row(session_factory, seeded.import_id)
    summary = row.sync_summary
    reasons = _reasons(summary)
    assert reasons[good["id"]] == ("synced", None)
    assert reasons[twin["id"]] == ("duplicate", None)
    assert reasons[same_on_other["id"]] == ("synced", None)  # per-contact: another contact keeps it
    assert reasons[no_url["id"]] == ("failed", "no_data_url")
    assert reasons[corrupt["id"]] == ("failed", "decode_error")
    assert reasons[not_image["id"]] == ("failed", "decode_error")
    assert reasons[stranger["id"]] == ("not_found", "contact_not_found")
    assert reasons[orphan["id"]] == ("not_found", "no_contact")
    assert reasons[deleted["id"]] == ("not_found", "contact_deleted")
    assert summary["status"] == "completed"
    assert (summary["total"], summary["synced"], summary["duplicate"]) == (9, 2, 1)
    assert (summary["failed"], summary["not_found"], summary["missing"]) == (3, 3, 0)
    assert summary["requests"] == 1
    assert summary["entries"][0]["monica_id"] == deleted["id"]  # newest first

    photos = await _photos(session_factory, seeded.account_id)
    digest = hashlib.sha256(image).hexdigest()
    assert [(p.contact_id, p.content_hash) for p in photos] == [
        (seeded.contacts[ann.id], digest),
        (seeded.contacts[ben.id], digest),
    ]
    assert all(p.content_type == "image/png" and p.size_bytes == len(image) for p in photos)
    assert sorted(_files(storage, seeded.account_id)) == sorted(p.storage_key for p in photos)
    assert await storage.get(photos[0].storage_key) == image
    async with session_factory() as session:
        avatars = dict(
            (
                await session.execute(
                    select(Contact.id, Contact.avatar_photo_id).where(
                        Contact.account_id == seeded.account_id
                    )
                )
            ).all()
        )
        records = await session.scalar(
            select(func.count())
            .select_from(ImportRecord)
            .where(
                ImportRecord.account_id == seeded.account_id,
                ImportRecord.source_entity_type == "photo",
            )
        )
    assert avatars[seeded.contacts[ann.id]] == photos[0].id
    assert avatars[seeded.contacts[ben.id]] == photos[1].id
    assert records == 2
    assert row.media_status == "completed"
    assert row.api_key_encrypted is None  # no other phase needs the key
    published = await outbox_types(session_factory, seeded.account_id)
    assert published[0] == subjects.IMPORT_PROGRESS
    assert published[-1] == subjects.PHOTOS_SYNC_COMPLETED


async def test_existing_avatar_is_kept_and_merged_contacts_lead_to_the_survivor(
    world: World, monica: FakeMonicaServer, session_factory: Sessions, storage: LocalStorage
) -> None:
    keeper, loser = world.add_contact(first_name="K"), world.add_contact(first_name="L")
    add_photo(world, contact_id=keeper.id, data=png_data_url((50, 50, 50)))
    add_photo(world, contact_id=loser.id, data=png_data_url((60, 60, 60)))
    seeded = await seed_import(
        session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[keeper.id, loser.id]
    )
    survivor, merged = seeded.contacts[keeper.id], seeded.contacts[loser.id]
    async with session_factory() as session, session.begin():
        first = Photo(
            account_id=seeded.account_id,
            contact_id=survivor,
            storage_key=f"a/{seeded.account_id}/photos/manual.png",
            content_type="image/png",
            size_bytes=1,
            content_hash="0" * 64,
        )
        session.add(first)
        await session.flush()
        await session.execute(
            update(Contact).where(Contact.id == survivor).values(avatar_photo_id=first.id)
        )
        await session.execute(
            update(Contact)
            .where(Contact.id == merged)
            .values(merged_into_id=survivor, deleted_at=func.now())
        )

    assert await _run(session_factory, storage, seeded) == "completed"

    photos = await _photos(session_factory, seeded.account_id)
    assert [p.contact_id for p in photos] == [survivor, survivor, survivor]
    async with session_factory() as session:
        avatar = await session.scalar(select(Contact.avatar_photo_id).where(Contact.id == survivor))
    assert avatar == first.id


async def test_sync_summary_is_readable_after_page_one_before_page_two(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = world.add_contact(first_name="P")
    for i in range(130):
        add_photo(world, contact_id=contact.id, data=png_data_url((i, 1, 2)))
    fake.add_fault(Fault("/api/photos", kind="slow", delay=2.0, page=2))
    seeded = await seed_import(
        session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[contact.id]
    )
    task = asyncio.create_task(_run(session_factory, storage, seeded))

    async def page_one_visible() -> dict[str, Any]:
        summary = (await import_row(session_factory, seeded.import_id)).sync_summary
        assert summary.get("synced") == 100, summary.get("synced")
        return summary

    mid = await eventually(page_one_visible, timeout=20)
    assert not task.done()
    assert mid["status"] == "processing"
    assert (mid["total"], mid["missing"]) == (130, 30)
    assert await task == "completed"
    final = (await import_row(session_factory, seeded.import_id)).sync_summary
    assert (final["synced"], final["missing"], final["requests"]) == (130, 0, 2)
    assert len(_files(storage, seeded.account_id)) == 130


async def test_oversize_page_is_refetched_at_smaller_limits(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = world.add_contact(first_name="O")
    for i in range(30):
        add_photo(world, contact_id=contact.id, data=png_data_url((i, 9, 9)))
    fake.add_fault(Fault("/api/photos", kind="huge", size=200_000, page=1, times=1))
    seeded = await seed_import(
        session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[contact.id]
    )

    assert await _run(session_factory, storage, seeded, photo_page_max_bytes=100_000) == "completed"

    limits = [e.query for e in fake.log if e.endpoint == "/api/photos"]
    assert limits == ["limit=100&page=1", "limit=25&page=1", "limit=25&page=2"]
    summary = (await import_row(session_factory, seeded.import_id)).sync_summary
    assert (summary["synced"], summary["missing"], summary["failed"]) == (30, 0, 0)


async def test_photo_too_large_even_alone_is_reported(
    world: World, monica: FakeMonicaServer, session_factory: Sessions, storage: LocalStorage
) -> None:
    contact = world.add_contact(first_name="T")
    add_photo(world, contact_id=contact.id, data=data_url(b"\x89PNG\r\n\x1a\n" + b"\x00" * 400))
    add_photo(world, contact_id=contact.id, data=png_data_url((2, 2, 2)))
    seeded = await seed_import(
        session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[contact.id]
    )

    assert await _run(session_factory, storage, seeded, photo_max_bytes=200) == "completed"

    summary = (await import_row(session_factory, seeded.import_id)).sync_summary
    assert sorted((e["status"], e["reason"]) for e in summary["entries"]) == [
        ("failed", "too_large"),
        ("synced", None),
    ]


async def test_stale_generation_writes_nothing_and_sends_nothing(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = world.add_contact(first_name="S")
    add_photo(world, contact_id=contact.id, data=png_data_url((3, 3, 3)))
    seeded = await seed_import(
        session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[contact.id]
    )
    async with session_factory() as session, session.begin():
        await fence.bump(session, seeded.account_id)

    with pytest.raises(StaleGeneration):
        await _run(session_factory, storage, seeded)

    assert await _photos(session_factory, seeded.account_id) == []
    assert _files(storage, seeded.account_id) == []
    assert fake.count("/api/photos") == 0
    assert (await import_row(session_factory, seeded.import_id)).media_status == "pending"


async def test_cancelled_import_is_a_no_op(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = world.add_contact(first_name="C")
    add_photo(world, contact_id=contact.id, data=png_data_url((3, 4, 3)))
    seeded = await seed_import(
        session_factory,
        api_url=monica.url,
        api_key=TOKEN,
        monica_contacts=[contact.id],
        media_status="cancelled",
    )

    assert await _run(session_factory, storage, seeded) == "nothing_to_do"

    assert fake.count("/api/photos") == 0
    assert await _photos(session_factory, seeded.account_id) == []
    assert await outbox_types(session_factory, seeded.account_id) == []


async def test_cancel_mid_sync_stops_at_the_next_page_keeping_counts(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = world.add_contact(first_name="X")
    for i in range(120):
        add_photo(world, contact_id=contact.id, data=png_data_url((i, 7, 7)))
    fake.add_fault(Fault("/api/photos", kind="slow", delay=1.5, page=2))
    seeded = await seed_import(
        session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[contact.id]
    )
    task = asyncio.create_task(_run(session_factory, storage, seeded))

    async def page_one_done() -> bool:
        return (await import_row(session_factory, seeded.import_id)).sync_summary.get(
            "synced"
        ) == 100

    await eventually(page_one_done, timeout=20)
    async with session_factory() as session, session.begin():
        await imports.request_cancel(
            session, account_id=seeded.account_id, import_id=seeded.import_id
        )

    assert await task == "cancelled"
    row = await import_row(session_factory, seeded.import_id)
    assert row.media_status == "cancelled"
    assert row.api_key_encrypted is None
    assert (row.sync_summary["status"], row.sync_summary["synced"]) == ("cancelled", 100)
    assert len(await _photos(session_factory, seeded.account_id)) == 100
    assert len(_files(storage, seeded.account_id)) == 100
    published = await outbox_types(session_factory, seeded.account_id)
    assert published[-1] == subjects.IMPORT_CANCELLED
    assert subjects.PHOTOS_SYNC_COMPLETED not in published


async def test_retry_syncs_what_failed_and_keeps_what_was_synced(
    world: World, monica: FakeMonicaServer, session_factory: Sessions, storage: LocalStorage
) -> None:
    known, late = world.add_contact(first_name="K"), world.add_contact(first_name="L")
    add_photo(world, contact_id=known.id, data=png_data_url((11, 11, 11)))
    late_photo = add_photo(world, contact_id=late.id, data=png_data_url((12, 12, 12)))
    seeded = await seed_import(
        session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[known.id]
    )
    assert await _run(session_factory, storage, seeded) == "completed"
    first = (await import_row(session_factory, seeded.import_id)).sync_summary
    assert _reasons(first)[late_photo["id"]] == ("not_found", "contact_not_found")

    # The missing contact gets mapped (e.g. a later import); the user retries the media sync.
    async with session_factory() as session, session.begin():
        contact = Contact(account_id=seeded.account_id, first_name="L", display_name="L")
        session.add(contact)
        await session.flush()
        await queries.upsert_record(
            session,
            account_id=seeded.account_id,
            import_id=seeded.import_id,
            source=seeded.source,
            entity_type="contact",
            source_id=str(late.id),
            local_id=contact.id,
        )
    await set_media_status(session_factory, seeded.import_id, "pending", TOKEN)

    assert await _run(session_factory, storage, seeded) == "completed"

    second = (await import_row(session_factory, seeded.import_id)).sync_summary
    assert second["synced"] == 2
    assert sorted(str(r) for _s, r in _reasons(second).values()) == ["None", "already_synced"]
    assert len(await _photos(session_factory, seeded.account_id)) == 2
    assert len(_files(storage, seeded.account_id)) == 2


async def test_documents_public_private_unauthorized_missing_and_foreign_host(
    world: World, monica: FakeMonicaServer, session_factory: Sessions, storage: LocalStorage
) -> None:
    contact = world.add_contact(first_name="D")
    host = FileHost()
    host.files["cv.pdf"] = HostedFile(b"%PDF-1.4 cv", "application/pdf")
    host.files["locked.pdf"] = HostedFile(status=401)
    host.files["login.pdf"] = HostedFile(content_type="text/html")
    with FakeMonicaServer(host) as cdn:  # type: ignore[arg-type]  # any ASGI app serves
        public = add_document(world, contact_id=contact.id, name="a.pdf", content=b"%PDF-1.4 a")
        private = add_document(world, contact_id=contact.id, name="b.pdf", public=False)
        gone = add_document(
            world, contact_id=contact.id, name="c.pdf", link=f"{monica.url}/public/none.pdf"
        )
        cdn_doc = add_document(
            world, contact_id=contact.id, name="cv.pdf", link=f"{cdn.url}/files/cv.pdf"
        )
        locked = add_document(
            world, contact_id=contact.id, name="l.pdf", link=f"{cdn.url}/files/locked.pdf"
        )
        login = add_document(
            world, contact_id=contact.id, name="g.pdf", link=f"{cdn.url}/files/login.pdf"
        )
        seeded = await seed_import(
            session_factory,
            api_url=monica.url,
            api_key=TOKEN,
            monica_contacts=[contact.id],
            options={"photos": False, "documents": True},
        )

        assert await _run(session_factory, storage, seeded) == "completed"

        assert host.requests
        assert host.authorized_requests() == 0
    summary = (await import_row(session_factory, seeded.import_id)).sync_summary
    by_id = {e["monica_id"]: e for e in summary["entries"]}
    assert (by_id[public["id"]]["status"], by_id[cdn_doc["id"]]["status"]) == ("synced", "synced")
    assert by_id[private["id"]]["reason"] == "login_page"
    assert by_id[private["id"]]["message"] == LOGIN_PAGE_MESSAGE
    assert by_id[locked["id"]]["reason"] == "unauthorized"
    assert by_id[login["id"]]["reason"] == "login_page"
    assert (by_id[gone["id"]]["status"], by_id[gone["id"]]["reason"]) == (
        "not_found",
        "upstream_missing",
    )
    assert summary["documents"]["synced"] == 2
    assert summary["documents"]["failed"] == 3
    assert summary["total"] == 0
    assert summary["synced"] == 0
    async with session_factory() as session:
        docs = list(
            (
                await session.scalars(
                    select(Document).where(Document.account_id == seeded.account_id)
                )
            ).all()
        )
    assert sorted([await storage.get(d.storage_key) for d in docs]) == [
        b"%PDF-1.4 a",
        b"%PDF-1.4 cv",
    ]
    assert all(d.storage_key.startswith(f"a/{seeded.account_id}/documents/") for d in docs)


async def test_photos_share_the_crawls_rate_limiter_without_a_429(
    world: World, session_factory: Sessions, storage: LocalStorage
) -> None:
    contact = world.add_contact(first_name="R")
    for i in range(5):
        world.add_contact(first_name=f"Listed{i}")
    for i in range(450):
        add_photo(world, contact_id=contact.id, data=png_data_url((i % 250, i // 250, 5)))
    fake = FakeMonica(world, rate_limit=4, rate_window=2.0, tie_drop=set())
    with FakeMonicaServer(fake) as monica:
        seeded = await seed_import(
            session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[contact.id]
        )

        async def crawl() -> int:
            limiter = RateLimiter(
                session_factory,
                key=bucket_key(origin_of(api_root(monica.url)), TOKEN),
                per_window=3,
                window_seconds=2.0,
            )
            async with MonicaClient(
                monica.url, TOKEN, limiter=limiter, allow_private=True
            ) as client:
                for page in range(1, 6):
                    await client.page("/contacts", page=page, limit=1)
                return client.stats.requests

        photos, crawled = await asyncio.gather(
            _run(
                session_factory,
                storage,
                seeded,
                rate_limit_per_minute=3,
                rate_window_seconds=2.0,
            ),
            crawl(),
        )

    assert photos == "completed"
    assert crawled == 5
    assert fake.stats()["too_many"] == 0
    assert fake.count("/api/photos", 200) == 5
    stamps = sorted(e.at for e in fake.log)
    # Never more than 4 requests in any 2-second window across both callers.
    assert all(b - a >= 2.0 - 0.05 for a, b in zip(stamps, stamps[4:], strict=False))
    summary = (await import_row(session_factory, seeded.import_id)).sync_summary
    assert summary["synced"] == 450


async def test_rejected_key_fails_the_phase_with_a_readable_reason(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = world.add_contact(first_name="F")
    add_photo(world, contact_id=contact.id, data=png_data_url((1, 9, 1)))
    seeded = await seed_import(
        session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[contact.id]
    )
    fake.revoke(TOKEN)

    assert await _run(session_factory, storage, seeded) == "failed"

    row = await import_row(session_factory, seeded.import_id)
    assert row.media_status == "failed"
    assert row.error == "photos: Monica rejected the API key (401)"
    assert row.api_key_encrypted is None
    assert row.sync_summary["status"] == "failed"
    assert TOKEN not in str(row.sync_summary)
    published = await outbox_types(session_factory, seeded.account_id)
    assert published[-1] == subjects.IMPORT_FAILED


async def test_monica_down_on_the_last_delivery_fails_instead_of_staying_processing(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = world.add_contact(first_name="U")
    add_photo(world, contact_id=contact.id, data=png_data_url((2, 9, 2)))
    fake.add_fault(Fault("/api/photos", kind="status", status=503, times=None))
    seeded = await seed_import(
        session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[contact.id]
    )
    env = direct_env(
        session_factory,
        storage,
        test_limits(),
        account_id=seeded.account_id,
        generation=seeded.generation,
    )
    # The photo page client retries once; then the message's own retry takes over.
    with pytest.raises(Transient):
        await run_media_phase(
            env, import_id=seeded.import_id, generation=seeded.generation, last_attempt=False
        )
    assert (await import_row(session_factory, seeded.import_id)).media_status == "processing"
    outcome = await run_media_phase(
        env, import_id=seeded.import_id, generation=seeded.generation, last_attempt=True
    )

    assert outcome == "failed"
    row = await import_row(session_factory, seeded.import_id)
    assert row.media_status == "failed"
    assert "503" in (row.error or "")


async def test_key_is_kept_while_the_misc_phase_still_needs_it(
    world: World, monica: FakeMonicaServer, session_factory: Sessions, storage: LocalStorage
) -> None:
    contact = world.add_contact(first_name="M")
    add_photo(world, contact_id=contact.id, data=png_data_url((5, 9, 5)))
    seeded = await seed_import(
        session_factory,
        api_url=monica.url,
        api_key=TOKEN,
        monica_contacts=[contact.id],
        misc_status="processing",
    )

    assert await _run(session_factory, storage, seeded) == "completed"

    row = await import_row(session_factory, seeded.import_id)
    assert row.media_status == "completed"
    assert row.api_key_encrypted is not None  # misc still runs with it


async def test_two_deliveries_at_once_run_one_sync(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = world.add_contact(first_name="W")
    for i in range(3):
        add_photo(world, contact_id=contact.id, data=png_data_url((i, 3, 9)))
    fake.add_fault(Fault("/api/photos", kind="slow", delay=1.0, page=1))
    seeded = await seed_import(
        session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[contact.id]
    )

    results = await asyncio.gather(
        _run(session_factory, storage, seeded),
        _run(session_factory, storage, seeded),
        return_exceptions=True,
    )

    assert sorted(type(r).__name__ for r in results) == ["Transient", "str"]
    assert "completed" in results
    assert fake.count("/api/photos") == 1
    assert len(await _photos(session_factory, seeded.account_id)) == 3
    assert len(_files(storage, seeded.account_id)) == 3


async def test_page_that_times_out_is_refetched_smaller(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = world.add_contact(first_name="Z")
    for i in range(30):
        add_photo(world, contact_id=contact.id, data=png_data_url((i, 2, 2)))
    # The limit-100 page and its one retry outlast the read timeout; smaller pages answer.
    fake.add_fault(Fault("/api/photos", kind="slow", delay=2.0, page=1, times=2))
    seeded = await seed_import(
        session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[contact.id]
    )

    outcome = await _run(session_factory, storage, seeded, photo_page_timeout_seconds=0.5)

    assert outcome == "completed"
    queries_sent = [e.query for e in fake.log if e.endpoint == "/api/photos"]
    # Slow answers are logged when the fake sends them (after the client gave up), so only
    # the fault's counter shows the two timed-out attempts.
    assert fake.faults[0].times == 0
    assert {"limit=25&page=1", "limit=25&page=2"} <= set(queries_sent)
    assert "limit=25&page=3" not in queries_sent
    summary = (await import_row(session_factory, seeded.import_id)).sync_summary
    assert (summary["synced"], summary["missing"]) == (30, 0)


async def test_photos_are_written_through_an_s3_compatible_backend(
    world: World, monica: FakeMonicaServer, session_factory: Sessions
) -> None:
    contact = world.add_contact(first_name="S3")
    image = png_bytes((30, 60, 90))
    add_photo(world, contact_id=contact.id, data=data_url(image))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        async with aiobotocore.session.get_session().create_client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", **credentials
        ) as client:
            await client.create_bucket(Bucket="media")
        s3 = S3Storage.from_url(
            f"s3://media/kith?endpoint_url={endpoint}&addressing=path", credentials=credentials
        )
        seeded = await seed_import(
            session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[contact.id]
        )
        env = direct_env(
            session_factory,
            s3,
            test_limits(),
            account_id=seeded.account_id,
            generation=seeded.generation,
        )

        outcome = await run_media_phase(
            env, import_id=seeded.import_id, generation=seeded.generation, last_attempt=False
        )

        assert outcome == "completed"
        [photo] = await _photos(session_factory, seeded.account_id)
        assert await s3.get(photo.storage_key) == image
        assert await s3.list_prefix(f"a/{seeded.account_id}/") == [photo.storage_key]
        await s3.close()
    finally:
        server.stop()


async def test_checkpoint_dropped_by_another_phase_does_not_stop_the_sync(
    world: World,
    fake: FakeMonica,
    monica: FakeMonicaServer,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = world.add_contact(first_name="G")
    for i in range(150):
        add_photo(world, contact_id=contact.id, data=png_data_url((i, 4, 4)))
    fake.add_fault(Fault("/api/photos", kind="slow", delay=1.0, page=2))
    seeded = await seed_import(
        session_factory, api_url=monica.url, api_key=TOKEN, monica_contacts=[contact.id]
    )
    task = asyncio.create_task(_run(session_factory, storage, seeded))

    async def page_one_done() -> bool:
        row = await import_row(session_factory, seeded.import_id)
        return row.sync_summary.get("synced") == 100

    await eventually(page_one_done, timeout=20)
    # The misc phase ends meanwhile and drops the import's staging rows (all kinds).
    async with session_factory() as session, session.begin():
        await queries.drop_checkpoint(session, seeded.import_id, whole_import=True)

    assert await task == "completed"
    assert (await import_row(session_factory, seeded.import_id)).sync_summary["synced"] == 150
