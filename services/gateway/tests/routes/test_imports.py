"""Imports over HTTP: start, one active per account, history without the key, cancel, vCard,
and the connection check through the importer's request/reply."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import nats
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import Import, ImportConnectionCheck, Outbox
from kith_common.events import subjects
from kith_common.events.payloads.imports import CheckConnectionReply, MonicaUser
from kith_common.events.registry import build_reply, parse_envelope
from kith_common.settings import Settings
from kith_gateway.testing import TestAccount

KEY = "monica-secret-key-123456789"


async def test_start_conflict_history_and_cancel(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = acct.headers("editor")
    body = {"api_url": "https://monica.example/api/", "api_key": KEY, "options": {"photos": True}}
    started = await client.post("/v1/imports", json=body, headers=h)
    assert started.status_code == 202, started.text
    import_id = started.json()["id"]
    assert (await client.post("/v1/imports", json=body, headers=h)).status_code == 409
    bad = await client.post("/v1/imports", json={**body, "options": {"nope": 1}}, headers=h)
    assert bad.status_code == 422

    shown = await client.get(f"/v1/imports/{import_id}", headers=acct.headers("viewer"))
    assert shown.json()["api_url"] == "https://monica.example"
    assert shown.json()["media_status"] == "pending"
    assert KEY not in shown.text
    async with sessions() as session:
        row = await session.scalar(select(Import).where(Import.id == import_id))
        assert row is not None
        assert row.api_key_encrypted is not None
        assert KEY.encode() not in row.api_key_encrypted
        start = await session.scalar(
            select(Outbox).where(
                Outbox.account_id == acct.id, Outbox.subject == subjects.IMPORT_START
            )
        )
        assert start is not None
        assert start.envelope["data"] == {"import_id": import_id}

    cancelled = await client.post(f"/v1/imports/{import_id}/cancel", headers=h)
    assert cancelled.status_code == 202
    after = (await client.get(f"/v1/imports/{import_id}", headers=h)).json()
    assert after["status"] == "cancelled"
    assert after["cancel_reason"] == "user"
    assert (await client.post(f"/v1/imports/{import_id}/cancel", headers=h)).status_code == 409
    history = (await client.get("/v1/imports", headers=h)).json()
    assert [i["id"] for i in history["data"]] == [import_id]


async def test_vcard_upload_is_stored_and_capped(
    client: httpx.AsyncClient, acct: TestAccount, settings: Settings
) -> None:
    h = acct.headers("editor")
    card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\nEND:VCARD\r\n"
    wrong = await client.post("/v1/imports", files={"file": ("a.txt", card)}, headers=h)
    assert wrong.status_code == 422
    ok = await client.post("/v1/imports", files={"file": ("cards.vcf", card)}, headers=h)
    assert ok.status_code == 202, ok.text
    shown = (await client.get(ok.json()["status_url"], headers=h)).json()
    assert shown["source"] == "vcard"
    assert shown["file_size"] == len(card)
    root = Path(settings.storage_url.removeprefix("file://"))
    stored = list((root / "a" / str(acct.id) / "imports").iterdir())
    assert [p.read_bytes() for p in stored] == [card]
    big = b"x" * (settings.max_upload_mb * 1024 * 1024 + 10)
    too_big = await client.post("/v1/imports", files={"file": ("big.vcf", big)}, headers=h)
    assert too_big.status_code == 413
    # Small in bytes, too many cards: refused before it is stored, with the cap named.
    tiny = b"BEGIN:VCARD\nFN:a\nEND:VCARD\n" * (settings.vcard_max_cards + 1)
    many = await client.post("/v1/imports", files={"file": ("many.vcf", tiny)}, headers=h)
    assert many.status_code == 413
    assert many.headers["content-type"].startswith("application/problem+json")
    assert many.json()["type"].endswith("/too-many-cards")
    assert f"at most {settings.vcard_max_cards}" in many.json()["detail"]
    assert len(list((root / "a" / str(acct.id) / "imports").iterdir())) == 1


async def test_connection_check_goes_through_the_importer(
    client: httpx.AsyncClient,
    acct: TestAccount,
    nats_url: str,
    stream_prefix: str,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    h = acct.headers("editor")
    seen: list[str] = []
    nc = await nats.connect(nats_url)

    async def importer(msg: nats.aio.msg.Msg) -> None:
        request = parse_envelope(subjects.RPC_IMPORT_CHECK_CONNECTION, msg.data)
        seen.append(msg.data.decode())
        async with sessions() as session:
            row = await session.get(ImportConnectionCheck, request.data.check_id)  # type: ignore[attr-defined]
            assert row is not None
            assert row.api_url == "https://m.example"
        reply = build_reply(
            subjects.RPC_IMPORT_CHECK_CONNECTION,
            CheckConnectionReply(
                ok=True, code="ok", message="connected", monica_user=MonicaUser(id=1, name="Ann")
            ),
            request=request,
        )
        await msg.respond(reply.model_dump_json().encode())

    sub = await nc.subscribe(
        f"{stream_prefix}.{subjects.RPC_IMPORT_CHECK_CONNECTION}", queue="importer", cb=importer
    )
    try:
        answer = await client.post(
            "/v1/imports/monica/check",
            json={"api_url": "https://m.example/", "api_key": KEY},
            headers=h,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["ok"] is True
        assert answer.json()["monica_user"]["name"] == "Ann"
        assert seen
        assert KEY not in seen[0]
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        await nc.close()
    nobody = await client.post(
        "/v1/imports/monica/check", json={"api_url": "https://m.example", "api_key": KEY}, headers=h
    )
    assert nobody.status_code == 503
    assert nobody.headers["content-type"].startswith("application/problem+json")


async def test_media_retry_of_a_finished_import_queues_photo_sync_once(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = acct.headers("editor")
    body = {"api_url": "https://monica.example", "api_key": KEY, "options": {"photos": True}}
    import_id = (await client.post("/v1/imports", json=body, headers=h)).json()["id"]
    early = await client.post(
        f"/v1/imports/{import_id}/media/retry", json={"api_key": KEY}, headers=h
    )
    assert early.status_code == 409  # the crawl has not finished
    async with sessions() as session, session.begin():
        await session.execute(
            update(Import)
            .where(Import.id == import_id)
            .values(
                status="completed",
                misc_status="completed",
                media_status="failed",
                api_key_encrypted=None,
            )
        )
    retried = await client.post(
        f"/v1/imports/{import_id}/media/retry", json={"api_key": KEY}, headers=h
    )
    assert retried.status_code == 202
    async with sessions() as session:
        row = await session.scalar(select(Import).where(Import.id == import_id))
        assert row is not None
        assert row.media_status == "pending"
        assert row.api_key_encrypted is not None
        syncs = (
            await session.scalars(
                select(Outbox.envelope).where(
                    Outbox.account_id == acct.id, Outbox.subject == subjects.PHOTOS_SYNC
                )
            )
        ).all()
    assert [s["data"] for s in syncs] == [{"import_id": import_id}]
    again = await client.post(
        f"/v1/imports/{import_id}/media/retry", json={"api_key": KEY}, headers=h
    )
    assert again.status_code == 409


async def test_progress_shows_requests_and_eta_and_never_passes_its_total(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = acct.headers("editor")
    body = {"api_url": "https://monica.example", "api_key": KEY}
    import_id = (await client.post("/v1/imports", json=body, headers=h)).json()["id"]
    # What the crawl writes with a step: its last `import.progress` numbers.
    progress = {"phase": "listing", "current": 300, "total": 910, "requests_done": 7}
    progress |= {"requests_estimated": 25, "eta_seconds": 19.6}
    async with sessions() as session, session.begin():
        await session.execute(
            update(Import)
            .where(Import.id == import_id)
            .values(
                status="processing",
                checkpoint={"phase": "listing", "total": 910},
                summary={"contacts": 941, "progress": progress},
            )
        )
    shown = (await client.get(f"/v1/imports/{import_id}", headers=h)).json()["progress"]
    assert shown == {
        "phase": "listing",
        "current": 300,
        "total": 910,
        "requests_done": 7,
        "requests_estimated": 25,
        "eta_seconds": 19.6,
    }
    # An import from before the crawl kept its numbers: contacts (partials included) capped.
    async with sessions() as session, session.begin():
        await session.execute(
            update(Import).where(Import.id == import_id).values(summary={"contacts": 941})
        )
    shown = (await client.get(f"/v1/imports/{import_id}", headers=h)).json()["progress"]
    assert (shown["current"], shown["total"], shown["eta_seconds"]) == (910, 910, None)


async def test_a_finished_import_shows_no_phase_and_no_eta(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The crawl's last step (cross references, 0 of 910) is not what a finished import is."""
    h = acct.headers("editor")
    body = {"api_url": "https://monica.example", "api_key": KEY}
    import_id = (await client.post("/v1/imports", json=body, headers=h)).json()["id"]
    progress = {"phase": "cross_references", "current": 0, "total": 910, "requests_done": 31}
    progress |= {"requests_estimated": 40, "eta_seconds": 9.8}
    for status, expected in (
        ("completed", (None, 910, 910, 31, 31, None)),
        ("failed", (None, 0, 910, 31, 40, None)),
    ):
        async with sessions() as session, session.begin():
            await session.execute(
                update(Import)
                .where(Import.id == import_id)
                .values(
                    status=status,
                    checkpoint={"phase": "cross_references", "total": 910},
                    summary={"contacts": 941, "progress": progress},
                )
            )
        shown = (await client.get(f"/v1/imports/{import_id}", headers=h)).json()["progress"]
        assert tuple(shown.values()) == expected, status


async def test_connection_checks_are_limited_per_account_with_a_retry_after(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    nats_url: str,
    stream_prefix: str,
    settings: Settings,
) -> None:
    nc = await nats.connect(nats_url)

    async def importer(msg: nats.aio.msg.Msg) -> None:
        request = parse_envelope(subjects.RPC_IMPORT_CHECK_CONNECTION, msg.data)
        reply = CheckConnectionReply(ok=False, code="invalid_key", message="Monica rejected it")
        envelope = build_reply(subjects.RPC_IMPORT_CHECK_CONNECTION, reply, request=request)
        await msg.respond(envelope.model_dump_json().encode())

    sub = await nc.subscribe(
        f"{stream_prefix}.{subjects.RPC_IMPORT_CHECK_CONNECTION}", queue="importer", cb=importer
    )
    body = {"api_url": "https://m.example", "api_key": KEY}
    try:
        for _ in range(settings.connection_checks_per_minute):
            answer = await client.post(
                "/v1/imports/monica/check", json=body, headers=acct.headers("editor")
            )
            assert answer.status_code == 200, answer.text
        refused = await client.post(
            "/v1/imports/monica/check", json=body, headers=acct.headers("editor")
        )
        # Another account has its own allowance.
        theirs = await client.post(
            "/v1/imports/monica/check", json=body, headers=other.headers("editor")
        )
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        await nc.close()
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/too-many-requests")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60 // settings.connection_checks_per_minute
    assert theirs.status_code == 200


async def test_an_address_the_importer_must_refuse_is_a_422_before_anything_is_queued(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The cloud metadata address, a private network or loopback named by IP: refused now,
    naming the field and what the operator can allow, with no import row and no command."""
    h = acct.headers("editor")
    cases = {
        "http://169.254.169.254/latest": "never contacted",
        "https://[::ffff:169.254.169.254]/": "never contacted",
        "http://10.1.2.3:8080/monica": "KITH_IMPORT_ALLOWED_HOSTS",
        "http://localhost/": "loopback",
    }
    for url, says in cases.items():
        for path in ("/v1/imports", "/v1/imports/monica/check"):
            answer = await client.post(path, json={"api_url": url, "api_key": KEY}, headers=h)
            assert answer.status_code == 422, (url, path, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            problem = answer.json()
            assert problem["type"].endswith("host-refused")
            assert problem["errors"][0]["field"] == "api_url"
            assert says in problem["detail"]
            assert KEY not in answer.text
    async with sessions() as session:
        assert (
            await session.scalars(select(Import.id).where(Import.account_id == acct.id))
        ).all() == []
        assert (
            await session.scalars(select(Outbox.id).where(Outbox.account_id == acct.id))
        ).all() == []
    # A host name is left to the importer's guard (only its resolver says where it points).
    named = {"api_url": "https://monica.example", "api_key": KEY}
    assert (await client.post("/v1/imports", json=named, headers=h)).status_code == 202
