"""The whole user journey through the real services (issue #9 acceptance).

A fake Monica with contacts of every kind (tie-dropped bursts, partials, duplicates, photos,
documents, every misc type) → import through the gateway with photos, documents and misc data
→ incremental dedup → review a candidate and merge it through the gateway → SSE shows the
progress → account reset → re-import. Every step is checked through the public API and in
the database.

The services run as real `kith serve` processes (`kith_common.testing.stack.Stack` on the test
session's PostgreSQL and NATS, on this test's own stream prefix). CI uses 300 contacts;
`KITH_JOURNEY_CONTACTS=2000` for the full-size run by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import Contact, Import
from kith_common.testing.bus import drop_streams
from kith_common.testing.fake_monica import FakeMonica, generate
from kith_common.testing.stack import Stack

CONTACTS = int(os.environ.get("KITH_JOURNEY_CONTACTS", "300"))
TERMINAL = ("completed", "failed", "cancelled")
Sessions = async_sessionmaker[AsyncSession]


class Api:
    """The public HTTP API as a user's script sees it."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return int(response.status), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        code, payload = self.call(method, path, body)
        assert 200 <= code < 300, (method, path, code, payload)
        return payload

    def content(self, path: str) -> tuple[bytes, dict[str, str]]:
        request = urllib.request.Request(self.base + path)
        request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read(), {k.lower(): v for k, v in response.headers.items()}

    def all(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            sep = "&" if "?" in path else "?"
            page = self.ok("GET", f"{path}{sep}limit=100" + (f"&cursor={cursor}" if cursor else ""))
            items.extend(page["data"])
            cursor = page["meta"]["next_cursor"]
            if not cursor:
                return items

    def wait(self, path: str, done: Any, timeout: float = 300) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            state = self.ok("GET", path)
            if done(state):
                return state
            assert time.monotonic() < deadline, state
            time.sleep(1)


class Sse(threading.Thread):
    """Reads `GET /v1/events` like a browser and keeps the event types it saw."""

    def __init__(self, api: Api) -> None:
        super().__init__(daemon=True)
        self.api = api
        self.types: list[str] = []
        self.connected = threading.Event()

    def run(self) -> None:
        request = urllib.request.Request(self.api.base + "/events")
        request.add_header("Authorization", f"Bearer {self.api.token}")
        with urllib.request.urlopen(request, timeout=600) as response:
            self.connected.set()
            for raw in response:
                line = raw.decode().strip()
                if line.startswith("event:"):
                    self.types.append(line.split(":", 1)[1].strip())


@pytest.fixture
def fake() -> FakeMonica:
    world = generate(
        contacts=CONTACTS,
        seed=9,
        partial_ratio=0.05,
        inactive_ratio=0.02,
        duplicate_ratio=0.06,
        garbage_phone_ratio=0.03,
        relationship_ratio=0.1,
        notes_per_contact=1.0,
        misc_per_contact=1.0,
        photos=12,
        documents=4,
    )
    return FakeMonica(world)  # tie-dropping listing (the default), no rate limit


@pytest.fixture
async def stack(
    tmp_path: Path, database_url: str, nats_url: str, stream_prefix: str, fake: FakeMonica
) -> AsyncIterator[Stack]:
    """The five services as `kith serve` processes on the session's servers and this test's
    streams, plus the fake Monica; every process must still be running at the end."""
    async with Stack(
        database_url, nats_url, stream_prefix, tmp_path, fake=fake, shutdown_grace=3
    ) as running:
        yield running
        crashed = {p.name: p.tail() for p in running.processes.values() if not p.running}
        assert crashed == {}, crashed
    await drop_streams(nats_url, stream_prefix)


class Laps:
    """Wall time per journey step, printed at the end (`-s` shows it; docs/reliability.md)."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.laps: list[tuple[str, float]] = []

    def lap(self, step: str) -> None:
        now = time.monotonic()
        self.laps.append((step, now - self.last))
        self.last = now

    def report(self) -> str:
        lines = [f"journey with {CONTACTS} contacts, wall time per step:"]
        lines += [f"  {step}: {seconds:.1f} s" for step, seconds in self.laps]
        lines.append(f"  total: {sum(s for _, s in self.laps):.1f} s")
        return "\n".join(lines)


async def _db(sessions: Sessions, account_id: int) -> dict[str, int]:
    async with sessions() as session:
        live = await session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(
                Contact.account_id == account_id,
                Contact.deleted_at.is_(None),
                Contact.merged_into_id.is_(None),
            )
        )
        merged = await session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.account_id == account_id, Contact.merged_into_id.is_not(None))
        )
        imports = await session.scalar(
            select(func.count()).select_from(Import).where(Import.account_id == account_id)
        )
    return {"live": int(live or 0), "merged": int(merged or 0), "imports": int(imports or 0)}


def _import(api: Api, monica_url: str) -> dict[str, Any]:
    started = api.ok(
        "POST",
        "/imports",
        {
            "api_url": monica_url,
            "api_key": "test-token",
            "options": {"photos": True, "documents": True, "auto_merge_duplicates": False},
        },
    )
    return api.wait(
        f"/imports/{started['id']}",
        lambda s: (
            s["status"] in TERMINAL
            and s["misc_status"] not in ("pending", "processing")
            and s["media_status"] not in ("pending", "processing")
        ),
        timeout=600,
    )


# API list → (the import summary's count, the fake's endpoint) of the misc-data phase.
MISC_LISTS = {
    "pets": ("pets", "pets"),
    "calls": ("calls", "calls"),
    "activities": ("activities", "activities"),
    "gifts": ("gifts", "gifts"),
    "debts": ("debts", "debts"),
    "tasks": ("tasks", "tasks"),
    "reminders": ("reminders", "reminders"),
    "conversations": ("conversations", "conversations"),
    "life-events": ("life_events", "lifeevents"),
    "journal-entries": ("journal_entries", "journal"),
}


def _check_readback(api: Api, fake: FakeMonica, done: dict[str, Any]) -> None:
    """Issue #16: every list's count equals the import summary's and the fake world's, and
    every stored file's bytes read back with their content hash."""
    summary, world = done["summary"], fake.world
    misc = summary["misc"]
    counts = {path: len(api.all(f"/{path}")) for path in (*MISC_LISTS, "notes", "relationships")}
    assert all(counts[path] > 0 for path in counts), counts  # every kind is present
    for path, (key, _) in MISC_LISTS.items():
        assert counts[path] == misc[key], (path, counts[path], misc)
    in_world = sum(len(world.items.get(endpoint, [])) for _, endpoint in MISC_LISTS.values())
    assert in_world == sum(misc[key] for key, _ in MISC_LISTS.values()) + sum(
        misc["skipped"].values()
    ) + sum(misc["missing"].values()), (in_world, misc)
    messages = sum(len(c["messages"]) for c in api.all("/conversations"))
    assert messages == misc["messages"]
    assert counts["notes"] == summary["notes"]
    assert summary["notes"] + summary.get("notes_skipped", 0) == len(world.items["notes"])
    assert counts["relationships"] == summary["relationships"] > 0
    sync = done["sync_summary"]
    for path, kind_sync in (("photos", sync), ("documents", sync["documents"])):
        files = api.all(f"/{path}")
        assert len(files) == kind_sync["synced"] > 0, (path, kind_sync)
        assert kind_sync["total"] == len(world.items[path])
        for item in files:
            data, headers = api.content(f"/{path}/{item['id']}/content")
            assert hashlib.sha256(data).hexdigest() == item["content_hash"]
            assert headers["etag"] == f'"{item["content_hash"]}"'


@pytest.mark.slow
async def test_import_dedup_merge_reset_reimport_through_the_real_services(
    fake: FakeMonica, stack: Stack
) -> None:
    session_factory = stack.sessions
    account_id, token = await stack.create_account("Journey")
    api = Api(f"{stack.gateway_url}/v1", token)
    sse = Sse(api)
    sse.start()
    assert sse.connected.wait(30)
    expected = len(fake.listed_contacts())
    laps = Laps()

    # 1. Import with photos, documents and misc data: every listed contact arrives,
    #    although the listing drops contacts at created_at ties.
    first = _import(api, stack.monica_url)
    assert first["status"] == "completed", first
    assert first["misc_status"] == "completed", first
    assert first["media_status"] == "completed", first
    contacts = api.all("/contacts")
    db = await _db(session_factory, account_id)
    assert len(contacts) == db["live"]
    assert db["live"] >= expected, (db, expected)
    laps.lap("1. import with photos, documents, misc (until every phase is terminal)")
    _check_readback(api, fake, first)
    laps.lap("1b. every kind read back through the API (counts, bytes)")

    # 2. Incremental dedup after the import finds the seeded duplicates.
    candidates = api.wait(
        "/duplicates?status=pending", lambda page: len(page["data"]) > 0, timeout=300
    )["data"]
    pair = candidates[0]
    survivor, loser = pair["contact"]["id"], pair["duplicate_contact"]["id"]
    laps.lap("2. incremental dedup (until the first candidate)")

    # 3. Review and merge through the gateway.
    preview = api.ok("POST", "/merges/preview", {"survivor_id": survivor, "loser_id": loser})
    assert preview["survivor"]
    accepted = api.ok(
        "POST",
        "/merges",
        {"survivor_id": survivor, "loser_id": loser, "candidate_id": pair["id"]},
    )
    merge = api.wait(f"/merges/{accepted['id']}", lambda m: m["status"] != "pending")
    assert merge["status"] == "done", merge
    assert api.ok("GET", f"/contacts/{loser}")["merged_into_id"] == survivor
    assert loser not in {c["id"] for c in api.all("/contacts")}
    assert pair["id"] not in {c["id"] for c in api.all("/duplicates?status=pending")}
    after_merge = await _db(session_factory, account_id)
    assert after_merge["live"] == db["live"] - 1
    assert after_merge["merged"] == db["merged"] + 1
    assert len(api.all("/contacts")) == after_merge["live"]
    laps.lap("3. review and merge through the gateway")

    # 4. SSE showed the progress of both the import and the merge.
    deadline = time.monotonic() + 30
    while not (any(t.startswith("import.") for t in sse.types) and "contacts.merged" in sse.types):
        assert time.monotonic() < deadline, sse.types
        time.sleep(0.5)
    assert "import.completed" in sse.types, sse.types
    laps.lap("4. SSE shows import and merge progress")

    # 5. Account reset: nothing of the account's data is left, through the API and in the DB.
    reset = api.ok("POST", "/account/reset", {"confirm": "RESET"})
    api.wait(reset["status_url"].removeprefix("/v1"), lambda r: r["status"] != "running")
    done = api.ok("GET", reset["status_url"].removeprefix("/v1"))
    assert done["status"] == "completed", done
    assert api.all("/contacts") == []
    assert api.ok("GET", "/duplicates")["data"] == []
    assert (await _db(session_factory, account_id))["live"] == 0
    laps.lap("5. account reset")

    # 6. Re-import: the same contacts as the first time, nothing doubled.
    second = _import(api, stack.monica_url)
    assert second["status"] == "completed", second
    again = await _db(session_factory, account_id)
    assert again["live"] == db["live"], (again, db)
    assert len(api.all("/contacts")) == db["live"]
    laps.lap("6. re-import")
    print(laps.report())  # the hand-run figures for docs/reliability.md
