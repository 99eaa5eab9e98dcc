"""kill -9 of a real `kith serve photos` mid-sync: the redelivered event resumes from the
checkpoint and the end state equals an uninterrupted run, with no second file or row."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.bus import outbox
from kith_common.db.models import ImportRecord, Photo
from kith_common.events import subjects
from kith_common.events.payloads.imports import ImportCompleted, ImportOptions
from kith_common.events.registry import build_envelope
from kith_common.ports import free_port
from kith_common.settings import Settings
from kith_common.storage.local import is_partial
from kith_common.testing import eventually
from kith_common.testing.bus import drop_streams
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, Fault, World
from kith_common.testing.fake_monica.media import add_photo, png_data_url
from kith_photos.testing import FAKE_TOKEN, import_row, seed_import

SECRET = "kill-test-secret-key-0123456789abcdef"
PHOTOS = 520
Sessions = async_sessionmaker[AsyncSession]


@pytest_asyncio.fixture(loop_scope="session")
async def cleanup_streams(nats_url: str, stream_prefix: str) -> AsyncIterator[None]:
    yield
    await drop_streams(nats_url, stream_prefix)


def _world() -> tuple[World, int, dict[str, int]]:
    """Photos on 4 contacts: every 40th repeats an earlier image (a duplicate), every 60th has
    no dataUrl. Returns the expected final counts."""
    world = World(seed=11)
    world.add_user(FAKE_TOKEN, account_id=1)
    contacts = [world.add_contact(first_name=f"K{i}").id for i in range(4)]
    expected = {"synced": 0, "duplicate": 0, "failed": 0}
    stored: set[tuple[int, tuple[int, int, int]]] = set()
    for i in range(PHOTOS):
        contact = contacts[i % 4]
        if i % 60 == 59:
            add_photo(world, contact_id=contact, data=None)
            expected["failed"] += 1
            continue
        rgb = (i % 4, 0, 0) if i % 40 == 39 else (i % 4, i % 250, i // 250)
        add_photo(world, contact_id=contact, data=png_data_url(rgb))
        expected["duplicate" if (contact, rgb) in stored else "synced"] += 1
        stored.add((contact, rgb))
    return world, contacts[0], expected


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(  # our own CLI
            [sys.executable, "-m", "kith_common.cli.main", "serve", "photos"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
@pytest.mark.usefixtures("cleanup_streams")
async def test_killed_photos_service_resumes_without_double_files_or_rows(
    database_url: str,
    nats_url: str,
    stream_prefix: str,
    session_factory: Sessions,
    tmp_path: Path,
) -> None:
    world, _first, expected = _world()
    fake = FakeMonica(world, rate_limit=0, tie_drop=set())
    # Page 4 answers slowly the first time, so the kill lands mid-sync, pages 1-3 committed.
    fake.add_fault(Fault("/api/photos", kind="slow", delay=3.0, page=4, times=1))
    files = tmp_path / "files"
    env = dict(
        os.environ,
        KITH_DATABASE_URL=database_url,
        KITH_NATS_URL=nats_url,
        KITH_STREAM_PREFIX=stream_prefix,
        KITH_SECRET_KEY=SECRET,
        KITH_STORAGE_URL=f"file://{files}",
        KITH_IMPORT_ALLOW_PRIVATE_HOSTS="true",
        KITH_MONICA_RATE_LIMIT_PER_MINUTE="0",
        KITH_SHUTDOWN_GRACE_SECONDS="2",
        KITH_LOG_FORMAT="console",
    )
    procs: list[subprocess.Popen[bytes]] = []
    with FakeMonicaServer(fake) as monica:
        seeded = await seed_import(
            session_factory,
            api_url=monica.url,
            api_key=FAKE_TOKEN,
            monica_contacts=[c for c in world.contacts],
            encryption_key=Settings(secret_key=SECRET).encryption_key(),
        )
        try:
            procs.append(_serve(dict(env, KITH_METRICS_PORT=str(free_port())), tmp_path / "a.log"))
            envelope = build_envelope(
                subjects.IMPORT_COMPLETED,
                ImportCompleted(
                    import_id=seeded.import_id,
                    source="monica_api",
                    options=ImportOptions(photos=True),
                    counts={},  # type: ignore[arg-type]  # defaults
                ),
                account_id=seeded.account_id,
                generation=seeded.generation,
            )
            async with session_factory() as session, session.begin():
                await outbox.add(session, subjects.IMPORT_COMPLETED, envelope)

            async def three_pages_in() -> dict[str, Any]:
                summary = (await import_row(session_factory, seeded.import_id)).sync_summary
                assert summary.get("total") == PHOTOS
                assert fake.count("/api/photos") >= 4, "page 4 not requested yet"
                return summary

            mid = await eventually(three_pages_in, timeout=60)
            procs[0].send_signal(signal.SIGKILL)
            procs[0].wait(timeout=10)
            assert mid["status"] == "processing"
            assert 0 < mid["synced"] < expected["synced"]

            procs.append(_serve(dict(env, KITH_METRICS_PORT=str(free_port())), tmp_path / "b.log"))

            async def completed() -> bool:
                return (await import_row(session_factory, seeded.import_id)).media_status == (
                    "completed"
                )

            await eventually(completed, timeout=150, interval=0.5)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()

    summary = (await import_row(session_factory, seeded.import_id)).sync_summary
    assert {k: summary[k] for k in expected} == expected
    assert (summary["total"], summary["missing"], summary["not_found"]) == (PHOTOS, 0, 0)
    async with session_factory() as session:
        keys = list(
            (
                await session.scalars(
                    select(Photo.storage_key).where(Photo.account_id == seeded.account_id)
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
    written = [p for p in files.rglob("*") if p.is_file()]
    on_disk = sorted(p.relative_to(files).as_posix() for p in written if not is_partial(p))
    assert len(keys) == expected["synced"]
    assert records == expected["synced"]
    assert on_disk == sorted(keys)  # no second copy, no orphan
    # At most the one write the kill interrupted; the next start's sweep removes it once stale.
    assert sum(1 for p in written if is_partial(p)) <= 1
    await asyncio.sleep(0)
