"""One Monica budget for the whole import: the crawl, the misc phase, photos and document
downloads from Monica's own host all take their turn from the shared limiter (importer.md §5).

Real importer and photos runtimes on one NATS and PostgreSQL, the fake Monica over real HTTP,
throttling its file routes like its API (a 429 once a user's window is spent). Windows are
scaled down from a minute to a few seconds on both sides so the tests stay short; Kith takes
55 per window against the fake's 60, as it does against a real Monica.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.accounts import create_account
from kith_common.db.models import Import
from kith_common.monica.client import origin_of
from kith_common.monica.metrics import REQUESTS
from kith_common.settings import Settings
from kith_common.testing import eventually
from kith_common.testing.bus import Harness, harness_fixture
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, Fault, World, generate
from kith_common.testing.fake_monica.media import add_document
from kith_common.testing.fake_monica.world import ITEM_ENDPOINTS
from kith_common.testing.stack import SECRET_KEY
from kith_importer.app import build_app as build_importer
from kith_importer.config import ImporterConfig
from kith_importer.testing import create
from kith_photos.app import build_app as build_photos
from kith_photos.downloads import DOWNLOAD_ENDPOINT

Sessions = async_sessionmaker[AsyncSession]
MISC = {f"/api/{name}" for name in ITEM_ENDPOINTS} - {"/api/notes", "/api/photos", "/api/documents"}


harness = pytest_asyncio.fixture(harness_fixture, loop_scope="session", name="harness")


async def _start(harness: Harness, tmp_path: Path, *, per_window: int, window: float) -> None:
    """The importer and the photos service, sharing one limiter setting."""
    settings: Settings = harness.settings(
        secret_key=SECRET_KEY,
        import_allow_private_hosts=True,
        monica_rate_limit_per_minute=per_window,
        monica_rate_limit_window_seconds=window,
        storage_url=f"file://{tmp_path / 'files'}",
    )
    config = ImporterConfig.from_settings(settings, max_deliver=3, nack_delays=(0.2,))
    for runtime in (build_importer(settings, config), build_photos(settings)):
        harness.runtimes.append(runtime)
        await runtime.start()


async def _import(sessions: Sessions, url: str, options: dict[str, Any]) -> Import:
    """Start a Monica import as the gateway does and wait until every phase has ended."""
    async with sessions() as session, session.begin():
        account, user = await create_account(
            session, name="Budget", email=f"budget-{uuid.uuid4().hex[:10]}@example.org"
        )
    import_id = await create(sessions, (account.id, user.id), url, options=options)

    async def ended() -> Import | None:
        async with sessions() as session:
            row = await session.get(Import, import_id)
        assert row is not None
        assert row.status != "failed", row.error
        phases = (row.status, row.misc_status, row.media_status)
        return row if all(p in ("completed", "failed") for p in phases) else None

    return await eventually(ended, timeout=90, interval=0.2)


def _counted(row: Import) -> int:
    """Every request the import's accounting shows: crawl, misc, photos and documents."""
    summary, sync = row.summary or {}, row.sync_summary or {}
    return (
        int(summary["requests"])
        + int(summary["misc"]["requests"])
        + int(sync["requests"])
        + int(sync["documents"]["requests"])
    )


def _world(documents: int) -> World:
    world = generate(contacts=6, seed=5, misc_per_contact=1.0, photos=2, notes_per_contact=1.0)
    [first, *_] = [c.id for c in world.contacts.values()]
    for i in range(documents):
        add_document(world, contact_id=first, name=f"d{i}.pdf", content=b"%PDF-1.4 " + bytes([i]))
    return world


async def test_whole_import_with_documents_on_monicas_host_stays_within_one_budget(
    harness: Harness, session_factory: Sessions, tmp_path: Path
) -> None:
    # Sent as fast as the phase stores them (~12-16 a second here), 125 downloads would put
    # more than 60 into one of the fake's 6-second windows.
    world = _world(documents=125)
    fake = FakeMonica(world, rate_limit=60, rate_window=6.0, tie_drop=set(), throttle_files=True)
    with FakeMonicaServer(fake) as monica:
        await _start(harness, tmp_path, per_window=55, window=6.0)

        row = await _import(
            session_factory, monica.url, {"photos": True, "documents": True, "notes": True}
        )

    assert (row.status, row.misc_status, row.media_status) == ("completed",) * 3
    assert fake.stats()["too_many"] == 0
    sync = row.sync_summary or {}
    assert sync["documents"]["synced"] == 125
    assert sync["documents"]["downloads"] == {origin_of(monica.url): 125}
    assert fake.count("/public/{file}") == 125
    assert _counted(row) == fake.stats()["total"]


async def test_429_on_a_download_pauses_every_phase_then_the_download_succeeds(
    harness: Harness, session_factory: Sessions, tmp_path: Path
) -> None:
    world = _world(documents=1)
    add_document(world, contact_id=next(iter(world.contacts)), name="rel.pdf", relative=True)
    fake = FakeMonica(world, rate_limit=0, tie_drop=set())
    fake.add_fault(Fault("/public/{file}", status=429, retry_after=5))
    # The documents listing answers late, so the misc phase is well under way by the download.
    fake.add_fault(Fault("/api/documents", kind="slow", delay=1.0))
    throttled = REQUESTS.labels(DOWNLOAD_ENDPOINT, "429")
    throttled_before = throttled._value.get()
    with FakeMonicaServer(fake) as monica:
        # 5 requests a second: the misc phase's dozen lists are still under way when the
        # media phase reaches its first download.
        await _start(harness, tmp_path, per_window=10, window=2.0)

        row = await _import(
            session_factory, monica.url, {"photos": False, "documents": True, "notes": False}
        )

    assert (row.status, row.misc_status, row.media_status) == ("completed",) * 3
    log = sorted(fake.log, key=lambda e: e.at)
    [refused] = [e for e in log if e.status == 429]
    assert refused.endpoint == "/public/{file}"
    after = [e for e in log if e.at > refused.at]
    # Nothing reached Monica for the 5 seconds it asked for, from any phase.
    assert after[0].at - refused.at >= 5.0, [(e.endpoint, e.at - refused.at) for e in after]
    before = [e for e in log if e.at < refused.at]
    assert any(e.endpoint in MISC for e in before)
    assert any(e.endpoint in MISC for e in after)  # misc was paused mid-phase, then went on
    downloads = [(e.path, e.status) for e in log if e.endpoint == "/public/{file}"]
    retried = refused.path
    assert downloads.count((retried, 429)) == 1
    assert downloads.count((retried, 200)) == 1  # one retry, then the file
    assert ("/public/rel.pdf", 200) in downloads  # a relative link, resolved on Monica's host
    assert throttled._value.get() - throttled_before == 1
    sync = row.sync_summary or {}
    assert (sync["documents"]["synced"], sync["documents"]["failed"]) == (2, 0)
    assert sync["documents"]["downloads"] == {origin_of(monica.url): 3}
    assert _counted(row) == fake.stats()["total"]
