"""Re-listing torn tie groups of `/api/photos` and `/api/documents` (API §11.1), against the
fake Monica over real HTTP, real PostgreSQL and a real directory.

The worlds stamp their items in bursts sharing one `created_at`; a burst that straddles a
page boundary of the limit-100 listing is torn by the fake's tie drop (some members shown
twice, others never), and only the re-listing brings the others back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import Document, ImportRecord, Photo
from kith_common.errors import Transient
from kith_common.monica.relisting import Window, single_window
from kith_common.storage import LocalStorage
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, Fault, World
from kith_common.testing.fake_monica.media import add_document, add_photo, png_data_url
from kith_photos.sync import run_media_phase
from kith_photos.testing import FAKE_TOKEN as TOKEN
from kith_photos.testing import SeededImport, direct_env, import_row, seed_import, test_limits

Sessions = async_sessionmaker[AsyncSession]

# 250 photos: bursts of 5 except one of 20 over positions 90..109 (torn by the cut at 100)
# and one of 15 over 190..204 (torn by the cut at 200).
PHOTO_BURSTS = [5] * 18 + [20] + [5] * 16 + [15] + [5] * 9
# 120 documents: bursts of 6 except one of 12 over positions 90..101.
DOCUMENT_BURSTS = [6] * 15 + [12] + [6] * 3


def _stamps(bursts: list[int]) -> Iterator[str]:
    """One `created_at` per item, shared within each burst, ascending."""
    for index, size in enumerate(bursts):
        for _ in range(size):
            yield f"2023-07-{1 + index // 24:02d}T{index % 24:02d}:00:00Z"


def _spans(bursts: list[int]) -> list[tuple[int, int]]:
    """Each burst's first and last position in the listing."""
    spans, offset = [], 0
    for size in bursts:
        spans.append((offset, offset + size - 1))
        offset += size
    return spans


@pytest.fixture
def tied(world: World) -> FakeMonica:
    """A fake whose photos and documents lists drop rows of tie groups across pages."""
    return FakeMonica(world, rate_limit=0, tie_drop={"photos", "documents"})


@pytest.fixture
def tied_monica(tied: FakeMonica) -> Iterator[FakeMonicaServer]:
    with FakeMonicaServer(tied) as server:
        yield server


def _media_world(world: World, photo_bursts: list[int], document_bursts: list[int]) -> int:
    """The photos and documents of one contact, stamped in bursts; returns the contact."""
    contact = world.add_contact(first_name="Burst")
    for i, stamp in enumerate(_stamps(photo_bursts)):
        add_photo(
            world,
            contact_id=contact.id,
            data=png_data_url((i % 256, i // 256, 7)),
            created_at=stamp,
        )
    for i, stamp in enumerate(_stamps(document_bursts)):
        add_document(
            world,
            contact_id=contact.id,
            name=f"doc-{i}.pdf",
            content=f"%PDF-1.4 document {i}".encode(),
            created_at=stamp,
        )
    return contact.id


async def _seed(sessions: Sessions, server: FakeMonicaServer, contact: int) -> SeededImport:
    return await seed_import(
        sessions,
        api_url=server.url,
        api_key=TOKEN,
        monica_contacts=[contact],
        options={"photos": True, "documents": True},
    )


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


async def _stored(sessions: Sessions, account_id: int) -> dict[str, int]:
    """Rows of photos, documents and their import records, and files on disk, by kind."""
    async with sessions() as session:

        async def count(model: Any, *where: Any) -> int:
            query = select(func.count()).select_from(model).where(*where)
            return int(await session.scalar(query) or 0)

        return {
            "photos": await count(Photo, Photo.account_id == account_id),
            "documents": await count(Document, Document.account_id == account_id),
            "photo_records": await count(
                ImportRecord,
                ImportRecord.account_id == account_id,
                ImportRecord.source_entity_type == "photo",
            ),
            "document_records": await count(
                ImportRecord,
                ImportRecord.account_id == account_id,
                ImportRecord.source_entity_type == "document",
            ),
        }


def _files(storage: LocalStorage, account_id: int, folder: str) -> list[str]:
    return [k for k in storage._list(f"a/{account_id}/{folder}/") if "/." not in k]


def _windows(fake: FakeMonica, endpoint: str) -> list[str]:
    """The queries of `endpoint` at a limit other than the listing's 100: the re-listing."""
    return [e.query for e in fake.log if e.endpoint == endpoint and "limit=100&" not in e.query]


def _torn(fake: FakeMonica, name: str) -> tuple[int, int]:
    """(items a limit-100 listing of `name` never shows, tie groups they belong to)."""
    stamps = {i["id"]: i["created_at"] for i in fake.world.items[name]}
    unlisted = fake.expected_unlisted_items(name)
    return len(unlisted), len({stamps[i] for i in unlisted})


async def test_torn_photo_and_document_groups_are_re_listed_one_request_each(
    tied: FakeMonica,
    tied_monica: FakeMonicaServer,
    world: World,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = _media_world(world, PHOTO_BURSTS, DOCUMENT_BURSTS)
    photos_unlisted, photo_groups = _torn(tied, "photos")
    documents_unlisted, document_groups = _torn(tied, "documents")
    # The world is what the test says: both bursts over a photo page cut, the one over the
    # document cut, are torn, and the listing alone would lose their members.
    assert (photo_groups, document_groups) == (2, 1)
    assert photos_unlisted > 0
    assert documents_unlisted > 0
    seeded = await _seed(session_factory, tied_monica, contact)

    assert await _run(session_factory, storage, seeded) == "completed"

    stored = await _stored(session_factory, seeded.account_id)
    assert stored == {
        "photos": 250,
        "documents": 120,
        "photo_records": 250,
        "document_records": 120,
    }
    assert len(_files(storage, seeded.account_id, "photos")) == 250
    assert len(_files(storage, seeded.account_id, "documents")) == 120
    summary = (await import_row(session_factory, seeded.import_id)).sync_summary
    documents = summary["documents"]
    assert (summary["total"], summary["synced"], summary["missing"]) == (250, 250, 0)
    assert (documents["total"], documents["synced"], documents["missing"]) == (120, 120, 0)
    assert summary["recovered"] == photos_unlisted
    assert documents["recovered"] == documents_unlisted
    # One window per torn group, each holding its group whole.
    spans = _spans(PHOTO_BURSTS)
    expected = [single_window(*spans[18]), single_window(*spans[35])]
    assert _windows(tied, "/api/photos") == [f"limit={w.limit}&page={w.page}" for w in expected]
    assert len(_windows(tied, "/api/documents")) == document_groups
    assert summary["requests_by_purpose"] == {"listing": 3, "relisting": photo_groups}
    assert documents["requests_by_purpose"] == {
        "download": 120,
        "listing": 2,
        "relisting": document_groups,
    }
    assert summary["requests"] == 3 + photo_groups
    assert documents["requests"] == 2 + document_groups + 120


async def test_an_untorn_list_costs_no_re_listing_request(
    tied: FakeMonica,
    tied_monica: FakeMonicaServer,
    world: World,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    # Ties everywhere, shuffled on every page, but no burst crosses a page cut: nothing lost.
    contact = _media_world(world, [5] * 50, [4] * 30)
    seeded = await _seed(session_factory, tied_monica, contact)

    assert await _run(session_factory, storage, seeded) == "completed"

    assert _windows(tied, "/api/photos") == []
    assert _windows(tied, "/api/documents") == []
    summary = (await import_row(session_factory, seeded.import_id)).sync_summary
    assert (summary["synced"], summary["missing"], summary["recovered"]) == (250, 0, 0)
    assert summary["requests_by_purpose"] == {"listing": 3}
    assert summary["documents"]["requests_by_purpose"] == {"download": 120, "listing": 2}


async def test_a_run_stopped_after_a_window_resumes_without_repeating_it(
    tied: FakeMonica,
    tied_monica: FakeMonicaServer,
    world: World,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = _media_world(world, PHOTO_BURSTS, [])
    photos_unlisted, _ = _torn(tied, "photos")
    spans = _spans(PHOTO_BURSTS)
    first, second = single_window(*spans[18]), single_window(*spans[35])
    assert isinstance(first, Window)
    assert isinstance(second, Window)
    assert second.page not in (first.page, 1, 2, 3)  # the fault below hits the second window only
    # Monica stays down for the second window: the run stops (the message is retried) after
    # the first window committed.
    tied.add_fault(Fault("/api/photos", kind="status", status=503, page=second.page, times=None))
    seeded = await _seed(session_factory, tied_monica, contact)

    with pytest.raises(Transient):
        await _run(session_factory, storage, seeded)

    midway = await _stored(session_factory, seeded.account_id)
    row = await import_row(session_factory, seeded.import_id)
    assert row.media_status == "processing"
    assert 0 < row.sync_summary["recovered"] < photos_unlisted
    assert midway["photos"] == 250 - photos_unlisted + row.sync_summary["recovered"]

    tied.faults.clear()
    assert await _run(session_factory, storage, seeded) == "completed"

    window_queries = _windows(tied, "/api/photos")
    first_query = f"limit={first.limit}&page={first.page}"
    assert window_queries.count(first_query) == 1  # the committed window is not asked again
    assert window_queries[-1] == f"limit={second.limit}&page={second.page}"
    stored = await _stored(session_factory, seeded.account_id)
    assert (stored["photos"], stored["photo_records"]) == (250, 250)
    assert len(_files(storage, seeded.account_id, "photos")) == 250  # each file written once
    summary = (await import_row(session_factory, seeded.import_id)).sync_summary
    assert (summary["synced"], summary["missing"]) == (250, 0)
    assert summary["recovered"] == photos_unlisted
    assert not [e for e in summary["entries"] if e["reason"] == "already_synced"]


async def test_a_photo_window_too_large_is_read_again_at_the_ladders_smaller_limits(
    tied: FakeMonica,
    tied_monica: FakeMonicaServer,
    world: World,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = _media_world(world, PHOTO_BURSTS, [])
    spans = _spans(PHOTO_BURSTS)
    first, second = single_window(*spans[18]), single_window(*spans[35])
    assert isinstance(first, Window)
    assert isinstance(second, Window)
    tied.add_fault(Fault("/api/photos", kind="huge", size=3_000_000, page=first.page, times=1))
    seeded = await _seed(session_factory, tied_monica, contact)

    assert (
        await _run(session_factory, storage, seeded, photo_page_max_bytes=2_000_000) == "completed"
    )

    # The first window's positions (88..109) at limit 5, the next limit of the ladder below 22;
    # then the second window as planned.
    ladder = [f"limit=5&page={page}" for page in range(first.first // 5 + 1, first.last // 5 + 2)]
    assert _windows(tied, "/api/photos") == [
        f"limit={first.limit}&page={first.page}",
        *ladder,
        f"limit={second.limit}&page={second.page}",
    ]
    summary = (await import_row(session_factory, seeded.import_id)).sync_summary
    stored = await _stored(session_factory, seeded.account_id)
    # Whatever the smaller queries brought is stored; the rest is counted, nothing is lost
    # silently and nothing is reported as failed.
    assert summary["synced"] == stored["photos"]
    assert summary["synced"] + summary["missing"] == 250
    assert summary["failed"] == 0
    assert summary["requests_by_purpose"] == {"listing": 3, "relisting": 2 + len(ladder)}


class _DiesAt(LocalStorage):
    """Storage whose `put` number `at` fails: the process dies after downloading that file,
    before its page or window commits."""

    def __init__(self, root: Path, at: int) -> None:
        super().__init__(root)
        self.at, self.puts = at, 0

    async def put(self, key: str, data: bytes) -> None:
        self.puts += 1
        if self.puts == self.at:
            raise _Died
        await super().put(key, data)


class _Died(Exception):
    pass


async def test_a_documents_run_stopped_before_its_window_plans_it_again_from_the_trace(
    tied: FakeMonica,
    tied_monica: FakeMonicaServer,
    world: World,
    session_factory: Sessions,
    storage: LocalStorage,
) -> None:
    contact = _media_world(world, [], DOCUMENT_BURSTS)
    documents_unlisted, _ = _torn(tied, "documents")
    window = single_window(*_spans(DOCUMENT_BURSTS)[15])
    assert isinstance(window, Window)
    seeded = await _seed(session_factory, tied_monica, contact)
    listed = 120 - documents_unlisted

    # The first file of the window (after every listed one) is where the process dies.
    with pytest.raises(_Died):
        await _run(session_factory, _DiesAt(storage.root, at=listed + 1), seeded)
    midway = await _stored(session_factory, seeded.account_id)
    assert midway["documents"] == listed  # the listed pages committed, the window did not

    assert await _run(session_factory, storage, seeded) == "completed"

    queries = [e.query for e in tied.log if e.endpoint == "/api/documents"]
    assert queries.count("limit=100&page=1") == 1  # the rerun lists nothing again
    assert queries.count("limit=100&page=2") == 1
    assert queries.count(f"limit={window.limit}&page={window.page}") == 2  # planned again
    stored = await _stored(session_factory, seeded.account_id)
    assert (stored["documents"], stored["document_records"]) == (120, 120)
    assert len(_files(storage, seeded.account_id, "documents")) == 120
    documents = (await import_row(session_factory, seeded.import_id)).sync_summary["documents"]
    assert (documents["synced"], documents["missing"]) == (120, 0)
    assert documents["recovered"] == documents_unlisted
