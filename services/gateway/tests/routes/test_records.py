"""Every kind of record reads back: account-wide keyset pages, `?contact_id=`, one item."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_gateway.pagination import encode
from kith_gateway.services.records import KINDS
from kith_gateway.testing import SeededRecords, TestAccount, seed_records


async def _contacts(client: httpx.AsyncClient, account: TestAccount, n: int) -> list[int]:
    h = account.headers("editor")
    return [
        (await client.post("/v1/contacts", json={"first_name": f"R{i}"}, headers=h)).json()["id"]
        for i in range(n)
    ]


async def _walk(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **query: object
) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 3, **query}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(url, params=params, headers=headers)
        assert response.status_code == 200, (url, response.text)
        page = response.json()
        seen.extend(item["id"] for item in page["data"])
        cursor = page["meta"]["next_cursor"]
        assert page["meta"]["has_more"] == (cursor is not None)
        if cursor is None:
            return seen


async def _seed(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    acct: TestAccount,
    other: TestAccount,
) -> tuple[list[int], SeededRecords, SeededRecords]:
    mine = await _contacts(client, acct, 5)
    theirs = await _contacts(client, other, 2)
    return (
        mine,
        await seed_records(sessions, acct.id, mine),
        await seed_records(sessions, other.id, theirs),
    )


async def test_every_kind_pages_newest_first_filters_by_contact_and_reads_one(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    contacts, seeded, foreign = await _seed(client, sessions, acct, other)
    h = acct.headers("viewer")
    assert len(KINDS) == 14
    for kind in KINDS:
        url = f"/v1/{kind.path}"
        expected = sorted(seeded.ids[kind.path], reverse=True)
        # Moments repeat in pairs, ids grow with them: newest first is descending ids.
        assert await _walk(client, url, h) == expected, kind.path
        if kind.by_contact:
            who = contacts[1]
            mine = sorted(seeded.by_contact[kind.path][who], reverse=True)
            assert await _walk(client, url, h, contact_id=who) == mine, kind.path
        item = await client.get(f"{url}/{expected[-1]}", headers=h)
        assert item.status_code == 200, (kind.path, item.text)
        assert item.json()["id"] == expected[-1]
        assert (
            await client.get(f"{url}/{foreign.ids[kind.path][0]}", headers=h)
        ).status_code == 404


async def test_records_carry_what_a_reader_needs(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    contacts, seeded, _ = await _seed(client, sessions, acct, other)
    h = acct.headers("viewer")
    first = contacts[0]

    async def one(path: str) -> dict[str, object]:
        item_id = seeded.by_contact[path][first][0]
        response = await client.get(f"/v1/{path}/{item_id}", headers=h)
        assert response.status_code == 200, response.text
        return dict(response.json())

    conversation = await one("conversations")
    assert [m["body"] for m in conversation["messages"]] == ["message 0", "message 1"]  # type: ignore[attr-defined]
    activity = await one("activities")
    assert [a["id"] for a in activity["attendees"]] == [first]  # type: ignore[attr-defined]
    relationship = await one("relationships")
    assert relationship["type_name"]
    assert relationship["reverse_name"]
    assert relationship["related_contact"]["id"] == contacts[1]  # type: ignore[index]
    assert relationship["contact"]["display_name"] == "R0"  # type: ignore[index]
    photo = await one("photos")
    assert photo["content_url"] == f"/v1/photos/{photo['id']}/content"
    life_event = await one("life-events")
    assert life_event["type_name"]
    assert life_event["category"]


async def test_bad_cursors_and_foreign_or_huge_ids_are_problems_not_500(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    h = acct.headers("viewer")
    theirs = await _contacts(client, other, 1)
    cases = {
        "/v1/notes?cursor=%%%not-base64": 400,
        f"/v1/notes?cursor={encode('calls', t='2024-01-01T00:00:00+00:00', i=1)}": 400,
        f"/v1/notes?cursor={encode('notes', t='yesterday', i=1)}": 400,
        f"/v1/notes?cursor={encode('notes', t='2024-01-01T00:00:00', i=1)}": 400,
        f"/v1/notes?cursor={encode('notes', t='2024-01-01T00:00:00+00:00', i=2**64)}": 400,
        f"/v1/notes?contact_id={theirs[0]}": 404,
        f"/v1/notes?contact_id={2**63}": 404,
        f"/v1/calls/{2**64}": 404,
        "/v1/journal-entries/99999999999": 404,
    }
    for url, status in cases.items():
        response = await client.get(url, headers=h)
        assert response.status_code == status, (url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
