"""Console lists say where you are ("Showing 51–100 of 125") and page back as well as forward.

The pages stay keyset pages: the API's `prev_cursor` reads the keyset backwards, and going
back to the start gives the first page exactly as it was.
"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import nats
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence
from kith_common.bus.dlq import DeadLetterer
from kith_common.db.models import Contact, Import
from kith_common.errors import Permanent
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_gateway import pagination
from kith_gateway.testing import TestAccount, console_sign_in, seed_records

CONTACTS = 125


async def _sign_in(client: httpx.AsyncClient, token: str) -> None:
    client.cookies.clear()
    signed = await console_sign_in(client, token)
    client.cookies.set("kith_console", signed.cookies["kith_console"], path="/console")


async def _contacts(sessions: async_sessionmaker[AsyncSession], account_id: int, n: int) -> None:
    async with sessions() as session, session.begin():
        session.add_all(
            Contact(account_id=account_id, first_name=f"P{i:03d}", display_name=f"P{i:03d}")
            for i in range(n)
        )


def _where(page: str) -> str:
    found = re.search(r'<p class="pager-where">(.*?)</p>', page, re.S)
    assert found is not None, "the page does not say where it is"
    return re.sub(r"<[^>]+>", "", html.unescape(found.group(1)))


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a (?:id="[^"]+" )?href="([^"]+)" rel="{rel}">', page)
    return html.unescape(found.group(1)) if found else None


def _names(page: str) -> list[str]:
    return re.findall(r'<a href="/console/contacts/\d+">([^<]+)</a>', page)


async def test_contacts_page_forward_and_back_saying_where_you_are(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _contacts(sessions, acct.id, CONTACTS)
    await _sign_in(client, acct.tokens["viewer"])

    first = (await client.get("/console/contacts")).text
    assert _where(first) == f"Showing 1–50 of {CONTACTS} contacts"
    assert '<nav class="pager" aria-label="Pagination">' in first
    assert '<span aria-current="page">Page 1 of 3</span>' in first
    assert _link(first, "prev") is None
    assert _link(first, "first") is None
    next_link = _link(first, "next")
    assert next_link is not None

    second = (await client.get(next_link)).text
    assert _where(second) == f"Showing 51–100 of {CONTACTS} contacts"
    assert '<span aria-current="page">Page 2 of 3</span>' in second
    assert _names(second) == [f"P{i:03d}" for i in range(50, 100)]
    back = _link(second, "prev")
    assert back is not None
    assert _link(second, "first") == "/console/contacts"
    again = (await client.get(back)).text
    assert _names(again) == _names(first) == [f"P{i:03d}" for i in range(50)]
    assert _where(again) == f"Showing 1–50 of {CONTACTS} contacts"

    last_link = _link(second, "next")
    assert last_link is not None
    last = (await client.get(last_link)).text
    assert _where(last) == f"Showing 101–125 of {CONTACTS} contacts"
    assert _link(last, "next") is None
    back_from_last = _link(last, "prev")
    assert back_from_last is not None
    assert _names((await client.get(back_from_last)).text) == _names(second)

    # A search keeps its words in every link, and its count is the matches'.
    found = (await client.get("/console/contacts", params={"q": "P10"})).text
    assert _where(found) == "Showing 1–10 of 10 contacts"
    assert "Page 1 of 1" not in found  # one page: no page controls to reach

    # Rows gone under a page (a cursor past the end now): it says so and links to the start.
    past = pagination.encode("contacts", n="ZZZ", i=1)
    emptied = (await client.get("/console/contacts", params={"cursor": past, "page": 4})).text
    assert (
        _where(emptied)
        == f"Nothing left on this page (the list changed); {CONTACTS} contacts in all"
    )
    assert _link(emptied, "first") == "/console/contacts"
    assert "Page 1 of" not in emptied

    # A cursor of another list is a readable 400, not another list's rows.
    imports_cursor = "eyJpIjo1LCJrIjoiaW1wb3J0cyJ9"  # {"i":5,"k":"imports"}
    refused = await client.get("/console/contacts", params={"cursor": imports_cursor})
    assert refused.status_code == 400
    assert "the cursor belongs to another list" in refused.text
    client.cookies.clear()


async def test_the_api_pages_back_with_prev_cursor_and_counts_on_request(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _contacts(sessions, acct.id, 23)
    h = acct.headers()
    pages: list[list[int]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 5, "with_total": "true"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/contacts", params=params, headers=h)).json()
        assert page["meta"]["total"] == 23
        pages.append([c["id"] for c in page["data"]])
        assert (page["meta"]["prev_cursor"] is None) == (len(pages) == 1)
        cursor = page["meta"]["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    back: list[list[int]] = []
    cursor = page["meta"]["prev_cursor"]
    while cursor is not None:
        page = (
            await client.get("/v1/contacts", params={"limit": 5, "cursor": cursor}, headers=h)
        ).json()
        assert page["meta"]["total"] is None  # not asked for
        back.append([c["id"] for c in page["data"]])
        cursor = page["meta"]["prev_cursor"]
    assert back == pages[-2::-1]


async def test_imports_and_duplicates_page_back_in_the_console(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        generation = await fence.current_generation(session, acct.id)
        session.add_all(
            Import(
                account_id=acct.id, source="monica_api", generation=generation, status="completed"
            )
            for _ in range(60)
        )
    await _contacts(sessions, acct.id, 12)
    async with sessions() as session, session.begin():
        ids = list(
            await session.scalars(
                text("SELECT id FROM contacts WHERE account_id = :a ORDER BY id"), {"a": acct.id}
            )
        )
        for n, (a, b) in enumerate((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]):
            await session.execute(
                text(
                    "INSERT INTO duplicate_candidates (account_id, contact_id,"
                    " duplicate_contact_id, score, reasons, confidence) VALUES (:acc, :a, :b,"
                    " 0.8, ARRAY['name_match'], :c)"
                ),
                {"acc": acct.id, "a": a, "b": b, "c": 0.5 if n % 4 else 0.95},  # ties too
            )
    await _sign_in(client, acct.tokens["editor"])

    imports = (await client.get("/console/imports")).text
    assert _where(imports) == "Showing 1–50 of 60 imports"
    next_link = _link(imports, "next")
    assert next_link is not None
    older = (await client.get(next_link)).text
    assert _where(older) == "Showing 51–60 of 60 imports"
    assert _link(older, "next") is None
    back = _link(older, "prev")
    assert back is not None
    shown = re.compile(r'<a href="/console/imports/(\d+)">')
    assert len(shown.findall(imports)) == 50
    assert shown.findall((await client.get(back)).text) == shown.findall(imports)

    pairs = (await client.get("/console/duplicates")).text  # 66 pending pairs
    assert _where(pairs) == "Showing 1–50 of 66 pending pairs"
    next_link = _link(pairs, "next")
    assert next_link is not None
    assert "status=pending" in next_link
    assert "sort=confidence" in next_link
    rest = (await client.get(next_link)).text
    assert _where(rest) == "Showing 51–66 of 66 pending pairs"
    back = _link(rest, "prev")
    assert back is not None
    card = re.compile(r'action="/console/duplicates/(\d+)/dismiss"')
    assert len(card.findall(pairs)) == 50
    assert card.findall((await client.get(back)).text) == card.findall(pairs)
    client.cookies.clear()


async def test_the_operator_pages_dead_letters_back_over_gaps(
    settings: Settings, client: httpx.AsyncClient, operator_token: str
) -> None:
    worker = Runtime(settings, "letters")
    await worker.start()  # declares the streams
    nc = await nats.connect(settings.nats_url)
    try:
        letters = DeadLetterer(worker.layout)
        letters.bind(nc.jetstream())
        for n in range(56):
            await letters.send(
                consumer="doomed-scan",
                subject="kith.cmd.dedup.scan",
                body=b'{"n": %d}' % n,
                envelope=None,
                error=Permanent(f"refused {n}"),
                deliveries=1,
                stream_sequence=n + 1,
            )
        await nc.jetstream().delete_msg(worker.layout.dlq, 3)  # a replayed letter's gap
    finally:
        await nc.close()
        await worker.stop()
    await _sign_in(client, operator_token)
    first = (await client.get("/console/operator")).text
    assert _where(first) == "Showing 1–50 of 55 dead letters"
    next_link = _link(first, "next")
    assert next_link is not None
    rest = (await client.get(next_link)).text
    assert _where(rest) == "Showing 51–55 of 55 dead letters"
    back = _link(rest, "prev")
    assert back is not None
    seqs = re.compile(r"<tr><td>(\d+)</td>")
    assert len(seqs.findall(first)) == 50
    assert seqs.findall((await client.get(back)).text) == seqs.findall(first)
    assert "3" not in seqs.findall(first)
    client.cookies.clear()


async def _walk_back_and_forth(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], params: dict[str, Any]
) -> None:
    """Forward pages of 7, then every `prev_cursor` back: the same pages in reverse."""
    pages: list[list[int]] = []
    cursor = None
    while True:
        query = {**params, "limit": 7, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(path, params=query, headers=headers)).json()
        pages.append([item["id"] for item in page["data"]])
        cursor = page["meta"]["next_cursor"]
        if cursor is None:
            break
    assert len(pages) > 3
    back: list[list[int]] = []
    cursor = page["meta"]["prev_cursor"]
    while cursor is not None:
        query = {**params, "limit": 7, "cursor": cursor}
        page = (await client.get(path, params=query, headers=headers)).json()
        back.append([item["id"] for item in page["data"]])
        cursor = page["meta"]["prev_cursor"]
    assert back == pages[-2::-1], path


async def test_duplicates_page_back_in_both_orders_through_ties(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _contacts(sessions, acct.id, 9)
    async with sessions() as session, session.begin():
        ids = list(
            await session.scalars(
                text("SELECT id FROM contacts WHERE account_id = :a ORDER BY id"), {"a": acct.id}
            )
        )
        for n, (a, b) in enumerate((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]):
            await session.execute(
                text(
                    "INSERT INTO duplicate_candidates (account_id, contact_id,"
                    " duplicate_contact_id, score, reasons, confidence) VALUES (:acc, :a, :b,"
                    " :s, ARRAY['name_match'], :c)"
                ),
                {"acc": acct.id, "a": a, "b": b, "s": 0.6 + n % 3 / 10, "c": (n % 5) / 5},
            )
    for sort in ("confidence", "score"):
        await _walk_back_and_forth(client, "/v1/duplicates", acct.headers(), {"sort": sort})
    # A page-back cursor of one order is refused by the other, like any cursor.
    first = await client.get("/v1/duplicates", params={"limit": 7}, headers=acct.headers())
    second = await client.get(
        "/v1/duplicates",
        params={"limit": 7, "cursor": first.json()["meta"]["next_cursor"]},
        headers=acct.headers(),
    )
    refused = await client.get(
        "/v1/duplicates",
        params={"sort": "score", "cursor": second.json()["meta"]["prev_cursor"]},
        headers=acct.headers(),
    )
    assert refused.status_code == 400


async def test_imports_page_back_through_the_api(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        generation = await fence.current_generation(session, acct.id)
        session.add_all(
            Import(account_id=acct.id, source="monica_api", generation=generation, status="failed")
            for _ in range(30)
        )
    await _walk_back_and_forth(client, "/v1/imports", acct.headers(), {})


async def test_a_contacts_timeline_pages_back_through_tied_moments(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Nine kinds, moments shared in pairs: back from each page gives the page before."""
    people = [
        (await client.post("/v1/contacts", json={"first_name": n}, headers=acct.headers())).json()[
            "id"
        ]
        for n in ("Ann", "Bob")
    ]
    for _ in range(3):
        await seed_records(sessions, acct.id, people)
    path = f"/v1/contacts/{people[0]}/timeline"
    await _walk_back_and_forth(client, path, acct.headers(), {})
    counted = await client.get(path, params={"with_total": "true"}, headers=acct.headers())
    assert counted.json()["meta"]["total"] == 27

    await _sign_in(client, acct.tokens["viewer"])
    first = (await client.get(f"/console/contacts/{people[0]}")).text
    assert _where(first) == "Showing 1–20 of 27 entries"
    older = _link(first, "next")
    assert older is not None
    assert older.endswith("#timeline")
    rest = (await client.get(older)).text
    assert _where(rest) == "Showing 21–27 of 27 entries"
    newer = _link(rest, "prev")
    assert newer is not None
    entries = re.compile(r'<li data-kind="[^"]+">.*?</li>')
    assert entries.findall((await client.get(newer)).text) == entries.findall(first)
    client.cookies.clear()
