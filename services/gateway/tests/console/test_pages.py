"""Console pages over real data: vCard upload, duplicates pagination and filter, import detail."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_gateway.testing import TestAccount, console_sign_in

VCARD = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\nEND:VCARD\r\n"


async def _sign_in(client: httpx.AsyncClient, token: str) -> str:
    client.cookies.clear()
    signed = await console_sign_in(client, token)
    client.cookies.set("kith_console", signed.cookies["kith_console"], path="/console")
    page = await client.get("/console/imports/new")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found is not None
    return found.group(1)


async def test_a_vcard_upload_starts_an_import_and_a_wrong_file_is_refused_at_its_field(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    csrf = await _sign_in(client, acct.tokens["editor"])
    wrong = await client.post(
        "/console/imports/vcard",
        data={"csrf": csrf},
        files={"file": ("people.txt", b"hello", "text/plain")},
    )
    assert re.search(r'name="file"[^>]*>\s*<span class="error" id="file-error"', wrong.text)
    started = await client.post(
        "/console/imports/vcard",
        data={"csrf": csrf},
        files={"file": ("people.vcf", VCARD, "text/vcard")},
    )
    assert started.status_code == 303
    detail = await client.get(started.headers["location"])
    assert detail.status_code == 200
    assert "people.vcf" in detail.text
    assert 'data-live-running="1"' in detail.text  # pending: the page follows it live
    listing = await client.get("/console/imports")
    assert started.headers["location"] in listing.text
    cancel = re.search(r'action="(/console/imports/\d+/cancel)"', detail.text)
    assert cancel is not None
    forged = await client.post(cancel.group(1), data={})
    assert forged.status_code == 403
    cancelled = await client.post(cancel.group(1), data={"csrf": csrf})
    assert cancelled.status_code == 303
    after = await client.get(started.headers["location"])
    assert re.search(r'id="import-status">(cancelled|cancelling)<', after.text)
    client.cookies.clear()


async def test_duplicates_page_by_status_with_stable_pagination(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = []
    for n in range(12):
        made = await client.post(
            "/v1/contacts", json={"first_name": f"P{n:02d}"}, headers=acct.headers()
        )
        ids.append(made.json()["id"])
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]  # 66 pairs
    async with sessions() as session, session.begin():
        for n, (a, b) in enumerate(pairs):
            await session.execute(
                text(
                    "INSERT INTO duplicate_candidates (account_id, contact_id,"
                    " duplicate_contact_id, score, reasons, status)"
                    " VALUES (:acc, :a, :b, :score, ARRAY['name_match'], :status)"
                ),
                {
                    "acc": acct.id,
                    "a": a,
                    "b": b,
                    "score": 0.9 if n % 3 else 0.7,  # ties: the order must still be total
                    "status": "dismissed" if n == 0 else "pending",
                },
            )
    await _sign_in(client, acct.tokens["admin"])
    first = await client.get("/console/duplicates")
    assert "Scan now" in first.text
    seen = re.findall(r'action="/console/duplicates/(\d+)/dismiss"', first.text)
    assert len(seen) == 50
    more = re.search(
        r'href="(/console/duplicates\?status=pending&amp;sort=confidence&amp;cursor=[^"]+)"',
        first.text,
    )
    assert more is not None
    second = await client.get(more.group(1).replace("&amp;", "&"))
    rest = re.findall(r'action="/console/duplicates/(\d+)/dismiss"', second.text)
    assert len(rest) == 15
    assert not set(seen) & set(rest)
    assert "Next page" not in second.text
    dismissed = await client.get("/console/duplicates?status=dismissed")
    assert dismissed.text.count('class="pair"') == 1
    assert "dismissed (1)" in dismissed.text
    client.cookies.clear()


async def test_import_detail_shows_the_time_left(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = {"api_url": "https://monica.example", "api_key": "monica-secret-key-123456789"}
    started = await client.post("/v1/imports", json=body, headers=acct.headers("editor"))
    import_id = started.json()["id"]
    progress = '{"current": 300, "total": 910, "requests_done": 7, "requests_estimated": 25, '
    progress += '"eta_seconds": 19.6}'
    async with sessions() as session, session.begin():
        await session.execute(
            text(  # the crawl's own write, simulated: status, checkpoint and progress
                "UPDATE imports SET status = 'processing', checkpoint = "
                """'{"phase": "listing", "total": 910}', summary = jsonb_build_object("""
                "'progress', CAST(:progress AS jsonb)) WHERE id = :id"
            ),
            {"progress": progress, "id": import_id},
        )
    await _sign_in(client, acct.tokens["viewer"])
    detail = await client.get(f"/console/imports/{import_id}")
    assert '<span id="import-eta">about 20 s left (7 of 25 requests)</span>' in detail.text
    assert "300 of 910" in detail.text
    client.cookies.clear()


async def test_scan_now_shows_the_scan_running_until_a_full_scan_has_written(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _sign_in(client, acct.tokens["admin"])
    page = await client.get("/console/duplicates")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf is not None
    asked = await client.post("/console/duplicates/scan", data={"csrf": csrf.group(1)})
    assert asked.status_code == 303
    running = await client.get(asked.headers["location"])
    assert 'id="scan-running" role="status" data-state="running"' in running.text
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO dedup_key_state (account_id, scanned_at) VALUES (:a, now())"
                " ON CONFLICT (account_id) DO UPDATE SET scanned_at = now()"
            ),
            {"a": acct.id},
        )
    done = await client.get(asked.headers["location"])
    assert 'data-state="done"' in done.text
    client.cookies.clear()
