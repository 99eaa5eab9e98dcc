"""Misc shortfall (importer.md §8 "Shortfall", §15 item 26): an account-wide list short of
`meta.total` is completed per contact, only for the contacts whose Monica `statistics` count
exceeds what was imported; what is still missing is counted in `summary.misc.missing`.

The fake drops rows from pages of `/api/calls` and `/api/activities` (a scripted body, as a tie
drop under LIMIT/OFFSET would), while `/api/contacts/{id}/calls` still serves them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import Activity, Call, Import, ImportStaging
from kith_common.metrics import REGISTRY
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, Fault, World
from kith_common.testing.fake_monica.world import render_item

Sessions = async_sessionmaker[AsyncSession]
CALLS = 250
ACTIVITIES = 120
MISC_ENDPOINTS = (
    "pets",
    "calls",
    "activities",
    "gifts",
    "debts",
    "tasks",
    "reminders",
    "conversations",
    "lifeevents",
    "journal",
)


def _call_contact(k: int) -> int:
    """Page 2 of /api/calls (ranks 100-199) holds every call of contacts 1-3."""
    if 100 <= k < 200:
        return 1 + k % 3
    return 4 + k % 20


@pytest.fixture
def world() -> World:
    w = World(seed=21)
    w.add_user("test-token")
    for i in range(1, 31):
        w.add_contact(
            id=i, first_name=f"S{i}", last_name="Q", created_at=f"2021-03-{i:02d}T00:00:00Z"
        )
    # /api/calls is ordered by called_at descending: call k is the k-th newest.
    for k in range(CALLS):
        w.add_item(
            "calls",
            called_at=f"2023-01-01T{(CALLS - k) // 60:02d}:{(CALLS - k) % 60:02d}:00Z",
            content=f"call {k}",
            contact_called=False,
            contact_id=_call_contact(k),
            created_at="2023-01-01T00:00:00Z",
        )
    # /api/activities is ordered by created_at ascending; every tenth attends contact 4.
    for k in range(ACTIVITIES):
        w.add_item(
            "activities",
            summary=f"activity {k}",
            happened_at="2023-02-01",
            attendee_ids=[4 if k % 10 == 0 else 10 + k % 15],
            created_at=f"2023-02-01T{k // 60:02d}:{k % 60:02d}:00Z",
        )
    return w


def _page(
    fake: FakeMonica, base: str, endpoint: str, rows: list[dict[str, Any]], page: int
) -> dict[str, Any]:
    total = len(fake.world.items[endpoint])
    return {
        "data": [render_item(fake.world, endpoint, row, base) for row in rows],
        "meta": {"total": total, "last_page": -(-total // 100), "current_page": page},
    }


async def _misc_done(sessions: Sessions, import_id: int) -> Import:
    deadline = time.monotonic() + 90
    while True:
        async with sessions() as session:
            row = await session.get(Import, import_id)
        assert row is not None
        if row.status in ("failed", "cancelled") or row.misc_status in (
            "completed",
            "failed",
            "cancelled",
        ):
            return row
        assert time.monotonic() < deadline, row.summary
        await asyncio.sleep(0.1)


async def test_a_short_list_is_completed_per_contact_for_the_short_contacts_only(
    run_import: Any,
    fake: FakeMonica,
    server: FakeMonicaServer,
    session_factory: Sessions,
    account: tuple[int, int],
) -> None:
    calls = sorted(fake.world.items["calls"], key=lambda c: c["called_at"], reverse=True)
    # Page 2 of /api/calls loses the rows of contacts 1 and 3 (contact 2's stay listed) and
    # shows two rows of page 1 again, as a tie drop does: each is written and counted once.
    kept = [c for c in calls[100:200] if c["contact_id"] == 2] + calls[:2]
    fake.add_fault(
        Fault("/api/calls", kind="body", page=2, body=_page(fake, server.url, "calls", kept, 2))
    )
    # Page 1 of /api/activities loses the ten activities of contact 4 listed there.
    activities = sorted(fake.world.items["activities"], key=lambda a: a["created_at"])
    listed = [a for a in activities[:100] if a["attendee_ids"] != [4]]
    fake.add_fault(
        Fault(
            "/api/activities",
            kind="body",
            page=1,
            body=_page(fake, server.url, "activities", listed, 1),
        )
    )
    # Contact 3's own list is short too: its calls dropped from page 2 stay missing.
    fake.add_fault(
        Fault(
            "/api/contacts/{id}/calls",
            kind="body",
            contact_id=3,
            body={"data": [], "meta": {"total": 0, "last_page": 1, "current_page": 1}},
        )
    )
    dropped_3 = sum(1 for c in calls[100:200] if c["contact_id"] == 3)

    row = await _misc_done(session_factory, (await run_import()).id)

    assert row.misc_status == "completed", row.summary
    per_contact = sorted(
        (e.endpoint, e.path) for e in fake.log if e.endpoint.startswith("/api/contacts/{id}/")
    )
    assert per_contact == [
        ("/api/contacts/{id}/activities", "/api/contacts/4/activities"),
        ("/api/contacts/{id}/calls", "/api/contacts/1/calls"),
        ("/api/contacts/{id}/calls", "/api/contacts/3/calls"),
    ]
    async with session_factory() as session:
        stored_calls = await session.scalar(
            select(func.count()).where(Call.account_id == account[0])
        )
        stored_activities = await session.scalar(
            select(func.count()).where(Activity.account_id == account[0])
        )
        staged_counts = await session.scalar(
            select(func.count()).where(
                ImportStaging.import_id == row.id, ImportStaging.kind == "misc_stats"
            )
        )
    assert staged_counts == 0  # the crawl kept them for the phase; the phase's end drops them
    assert stored_calls == CALLS - dropped_3
    assert stored_activities == ACTIVITIES
    misc = row.summary["misc"]
    assert (misc["calls"], misc["activities"]) == (CALLS - dropped_3, ACTIVITIES)
    assert misc["missing"] == {"calls": dropped_3}
    listing = sum(fake.count(f"/api/{name}") for name in MISC_ENDPOINTS)
    assert misc["requests"] == listing + len(per_contact)


async def test_a_torn_tie_group_is_relisted_instead_of_fetched_per_contact(
    run_import: Any, fake: FakeMonica, session_factory: Sessions, account: tuple[int, int]
) -> None:
    # 25 calls at one called_at across the page cut at 100: the list shows some twice and
    # never shows as many others (API §11.1); one window at another limit brings them back.
    calls = sorted(fake.world.items["calls"], key=lambda c: c["called_at"], reverse=True)
    for call in calls[90:115]:
        call["called_at"] = calls[90]["called_at"]
    fake.tie_drop = {"contacts", "calls"}
    row = await _misc_done(session_factory, (await run_import()).id)
    assert row.misc_status == "completed", row.summary
    assert not [e for e in fake.log if e.endpoint.startswith("/api/contacts/{id}/")]
    misc = row.summary["misc"]
    assert misc["calls"] == CALLS
    assert misc.get("missing", {}) == {}
    async with session_factory() as session:
        stored = await session.scalar(select(func.count()).where(Call.account_id == account[0]))
    assert stored == CALLS
    relisted = [e for e in fake.log if e.endpoint == "/api/calls" and "limit=100" not in e.query]
    assert len(relisted) == 1
    listing = sum(fake.count(f"/api/{name}") for name in MISC_ENDPOINTS) - 1
    assert misc["requests_by_phase"] == {"misc": {"listing": listing, "relisting": 1}}
    assert misc["requests"] == listing + 1


async def test_a_redelivery_resumes_the_refetch_at_the_contact_it_stopped_at(
    run_import: Any,
    fake: FakeMonica,
    server: FakeMonicaServer,
    session_factory: Sessions,
    account: tuple[int, int],
) -> None:
    calls = sorted(fake.world.items["calls"], key=lambda c: c["called_at"], reverse=True)
    kept = [c for c in calls[100:200] if c["contact_id"] == 2]
    fake.add_fault(
        Fault("/api/calls", kind="body", page=2, body=_page(fake, server.url, "calls", kept, 2))
    )
    # Contact 3's list answers 503 until the first delivery has given up on it.
    outage = fake.add_fault(
        Fault("/api/contacts/{id}/calls", kind="status", status=503, contact_id=3, times=None)
    )
    before = _retried()
    row = await run_import()
    deadline = time.monotonic() + 60
    while _retried() <= before:
        assert time.monotonic() < deadline, "the misc follow-up never gave up on contact 3"
        await asyncio.sleep(0.05)
    async with session_factory() as session:
        checkpoint = await session.scalar(
            select(ImportStaging.payload).where(
                ImportStaging.import_id == row.id,
                ImportStaging.kind == "misc",
                ImportStaging.key == "checkpoint",
            )
        )
    assert checkpoint is not None
    assert checkpoint["short"] == [3]  # contact 1 done and checkpointed
    outage.times = 0
    row = await _misc_done(session_factory, row.id)

    assert row.misc_status == "completed", row.summary
    refetched = [e.path for e in fake.log if e.endpoint == "/api/contacts/{id}/calls"]
    assert refetched.count("/api/contacts/1/calls") == 1
    assert refetched[-1] == "/api/contacts/3/calls"
    misc = row.summary["misc"]
    assert misc["calls"] == CALLS
    assert misc.get("missing", {}) == {}
    async with session_factory() as session:
        stored = await session.scalar(select(func.count()).where(Call.account_id == account[0]))
    assert stored == CALLS


def _retried() -> float:
    labels = {"consumer": "importer-misc", "outcome": "retried"}
    return REGISTRY.get_sample_value("kith_bus_messages_handled_total", labels) or 0.0
