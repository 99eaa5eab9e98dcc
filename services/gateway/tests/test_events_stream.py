"""GET /v1/events on a real server: an import's progress and completion, own account only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import nats
import pytest_asyncio
from sqlalchemy import text

from kith_common.events import subjects
from kith_common.events.payloads.imports import (
    ImportCompleted,
    ImportCounts,
    ImportOptions,
    ImportProgress,
)
from kith_common.events.registry import build_envelope
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.testing.bus import drop_streams
from kith_gateway.testing import TestAccount, make_account, running_gateway

REVALIDATE_SECONDS = 0.3  # 30 s in production; short here so a revocation shows at once
PER_TOKEN = 2


@pytest_asyncio.fixture(loop_scope="session")
async def server(
    settings: Settings, nats_url: str, stream_prefix: str
) -> AsyncIterator[tuple[Runtime, str]]:
    async with running_gateway(
        settings, stream_revalidate_seconds=REVALIDATE_SECONDS, streams_per_token=PER_TOKEN
    ) as (runtime, base):
        yield runtime, base
    await drop_streams(nats_url, stream_prefix)


async def _publish(nats_url: str, prefix: str, account_id: int, *payloads: object) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for payload in payloads:
        subject = (
            subjects.IMPORT_PROGRESS
            if isinstance(payload, ImportProgress)
            else subjects.IMPORT_COMPLETED
        )
        envelope = build_envelope(subject, payload, account_id=account_id, generation=1)  # type: ignore[arg-type]
        await js.publish(
            f"{prefix}.{subject}",
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(envelope.id)},
        )
    await nc.close()


async def test_stream_shows_own_import_progress_and_completion_only(
    server: tuple[Runtime, str], nats_url: str, stream_prefix: str
) -> None:
    runtime, base = server
    mine: TestAccount = await make_account(runtime.sessions)
    theirs: TestAccount = await make_account(runtime.sessions)
    events: list[tuple[str, dict[str, object]]] = []
    connected = asyncio.Event()

    async def listen() -> None:
        async with (
            httpx.AsyncClient(timeout=None) as http,
            http.stream("GET", f"{base}/v1/events", headers=mine.headers("viewer")) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = None
            async for line in response.aiter_lines():
                if line.startswith(": connected"):
                    connected.set()
                elif line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind:
                    events.append((kind, json.loads(line.removeprefix("data: "))))
                    if kind == "import.completed":
                        return

    task = asyncio.create_task(listen())
    await asyncio.wait_for(connected.wait(), 10)
    await _publish(
        nats_url,
        stream_prefix,
        theirs.id,
        ImportProgress(import_id=999, phase="listing", current=1, total=2),
    )
    await _publish(
        nats_url,
        stream_prefix,
        mine.id,
        ImportProgress(import_id=7, phase="listing", current=5, total=10),
        ImportProgress(import_id=7, phase="listing", current=10, total=10),
        ImportCompleted(
            import_id=7, source="monica_api", options=ImportOptions(), counts=ImportCounts()
        ),
    )
    await asyncio.wait_for(task, 20)
    assert [k for k, _ in events] == ["import.progress", "import.progress", "import.completed"]
    assert {e["account_id"] for _, e in events} == {mine.id}
    assert [e["data"]["current"] for k, e in events if k == "import.progress"] == [5, 10]  # type: ignore[index]


async def test_gateway_own_events_reach_the_stream_through_the_outbox(
    server: tuple[Runtime, str],
) -> None:
    runtime, base = server
    acct = await make_account(runtime.sessions)
    h = acct.headers("editor")
    async with httpx.AsyncClient(base_url=base) as http:
        a = (await http.post("/v1/contacts", json={"first_name": "A"}, headers=h)).json()["id"]
        b = (await http.post("/v1/contacts", json={"first_name": "A"}, headers=h)).json()["id"]
    async with runtime.sessions() as session, session.begin():
        candidate = await session.scalar(
            text(
                "INSERT INTO duplicate_candidates (account_id, contact_id, duplicate_contact_id,"
                " score, reasons) VALUES (:acc, :a, :b, 0.9, ARRAY['name_match']) RETURNING id"
            ),
            {"acc": acct.id, "a": min(a, b), "b": max(a, b)},
        )
    seen: list[str] = []
    connected = asyncio.Event()

    async def listen() -> None:
        async with (
            httpx.AsyncClient(timeout=None) as http,
            http.stream("GET", f"{base}/v1/events", headers=h) as response,
        ):
            async for line in response.aiter_lines():
                if line.startswith(": connected"):
                    connected.set()
                if line.startswith("event: "):
                    seen.append(line.removeprefix("event: "))
                    return

    task = asyncio.create_task(listen())
    await asyncio.wait_for(connected.wait(), 10)
    async with httpx.AsyncClient(base_url=base) as http:
        dismissed = await http.post(f"/v1/duplicates/{candidate}/dismiss", headers=h)
    assert dismissed.status_code == 200
    await asyncio.wait_for(task, 20)
    assert seen == ["dedup.candidate.dismissed"]


async def test_a_revoked_token_ends_its_streams_and_a_token_holds_at_most_its_cap(
    server: tuple[Runtime, str],
) -> None:
    runtime, base = server
    acct = await make_account(runtime.sessions)
    async with httpx.AsyncClient(base_url=base, timeout=None) as http:
        made = await http.post("/v1/tokens", json={"name": "dashboard"}, headers=acct.headers())
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        mine = {"Authorization": f"Bearer {token}"}
        endings: list[list[str]] = [[], []]
        connected = [asyncio.Event(), asyncio.Event()]

        async def listen(i: int) -> None:
            async with http.stream("GET", "/v1/events", headers=mine) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line.startswith(": connected"):
                        connected[i].set()
                    elif line.startswith("event: "):
                        endings[i].append(line)

        streams = [asyncio.create_task(listen(i)) for i in range(PER_TOKEN)]
        for event in connected:
            await asyncio.wait_for(event.wait(), 10)
        refused = await http.get("/v1/events", headers=mine)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/too-many-streams")
        assert int(refused.headers["Retry-After"]) > 0
        # Another token of the same account is not limited by this one's streams.
        async with http.stream("GET", "/v1/events", headers=acct.headers("viewer")) as other:
            assert other.status_code == 200

        gone = await http.delete(f"/v1/tokens/{made.json()['id']}", headers=acct.headers())
        assert gone.status_code == 204
        # Without the re-check both would stream on (keepalives) until the test's deadline.
        await asyncio.wait_for(asyncio.gather(*streams), 10)
    assert endings == [["event: revoked"], ["event: revoked"]]
