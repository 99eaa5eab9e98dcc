"""The importer's DLQ hook (importer.md §10, issue 19 §3), through real JetStream and PostgreSQL.

The letters are written by the bus's own dead letterer, exactly as after a crash loop (the
delivery past `max_deliver` is dead-lettered without running the handler again).
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence
from kith_common.db.models import Import, Outbox
from kith_common.events import subjects
from kith_common.events.examples import example_envelope
from kith_common.events.payloads.imports import StartImport
from kith_common.events.registry import build_envelope
from kith_common.testing import eventually
from kith_common.testing.bus import Harness
from kith_importer.app import build_app
from kith_importer.config import ImporterConfig
from kith_importer.consumers import IMPORT_MISC, IMPORT_START
from kith_importer.testing import KEY, create

Sessions = async_sessionmaker[AsyncSession]


async def _stuck(sessions: Sessions, account: tuple[int, int], **phases: str | None) -> int:
    """An import left `processing` by a worker that crashed; its start command is not sent."""
    import_id = await create(sessions, account, "https://monica.example.com")
    async with sessions() as session, session.begin():
        await session.execute(
            delete(Outbox).where(Outbox.subject == subjects.IMPORT_START, Outbox.sent_at.is_(None))
        )
        await session.execute(
            update(Import)
            .where(Import.id == import_id)
            .values(lease_owner="crashed-worker", **phases)
        )
    return import_id


async def _row(sessions: Sessions, import_id: int) -> Import:
    async with sessions() as session:
        row = await session.get(Import, import_id)
    assert row is not None
    return row


async def test_a_dead_lettered_start_or_misc_command_fails_its_import_and_wipes_the_key(
    harness: Harness, session_factory: Sessions, account: tuple[int, int]
) -> None:
    misc = await _stuck(
        session_factory, account, status="completed", misc_status="processing", media_status=None
    )
    crawl = await _stuck(session_factory, account, status="processing")
    assert (await _row(session_factory, crawl)).api_key_encrypted is not None
    settings = harness.settings()
    importer = build_app(settings, ImporterConfig.from_settings(settings, encryption_key=KEY))
    harness.runtimes.append(importer)
    await importer.start()
    async with session_factory() as session:
        generation = await fence.current_generation(session, account[0])
    completed = example_envelope(subjects.IMPORT_COMPLETED).data.model_copy(
        update={"import_id": misc}
    )
    for sequence, (consumer, subject, data) in enumerate(
        (
            (IMPORT_START.durable, subjects.IMPORT_START, StartImport(import_id=crawl)),
            (IMPORT_MISC.durable, subjects.IMPORT_COMPLETED, completed),
        ),
        start=1,
    ):
        original = build_envelope(subject, data, account_id=account[0], generation=generation)
        await importer.dead_letters.send(
            consumer=consumer,
            subject=importer.layout.subject(subject),
            body=original.model_dump_json().encode(),
            envelope=original,
            error=RuntimeError("gave up after 8 deliveries"),
            deliveries=9,
            stream_sequence=sequence,
        )

    async def settled() -> bool:
        rows = [await _row(session_factory, i) for i in (crawl, misc)]
        return rows[0].status == "failed" and rows[1].misc_status == "failed"

    await eventually(settled, timeout=15)
    failed_crawl, failed_misc = (
        await _row(session_factory, crawl),
        await _row(session_factory, misc),
    )
    reason = "the importer gave up after 9 attempts: gave up after 8 deliveries"
    assert failed_crawl.error == failed_misc.error == reason
    assert failed_crawl.api_key_encrypted is None
    assert failed_crawl.misc_status == "cancelled"
    assert failed_crawl.lease_owner is None
    assert failed_misc.api_key_encrypted is None
    async with session_factory() as session:
        events = (
            await session.scalars(
                select(Outbox.envelope).where(Outbox.subject == subjects.IMPORT_FAILED)
            )
        ).all()
    by_import = {e["data"]["import_id"]: e["data"] for e in events}
    assert by_import[crawl]["reason"] == reason
    assert by_import[misc]["phase"] == "misc"
