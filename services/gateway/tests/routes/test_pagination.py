"""Keyset pages never skip or repeat a row that stays, while rows come and go."""

from __future__ import annotations

import random
from decimal import Decimal

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_gateway.testing import TestAccount


async def _walk(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], between: object
) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(path, params=params, headers=headers)).json()
        seen.extend(item["id"] for item in page["data"])
        cursor = page["meta"]["next_cursor"]
        assert page["meta"]["has_more"] == (cursor is not None)
        if cursor is None:
            return seen
        await between()  # type: ignore[operator]


async def test_contact_pages_survive_inserts_and_deletes(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    h = acct.headers("editor")
    rng = random.Random(7)
    names = [f"N{rng.randrange(1000):03d}" for _ in range(40)]
    ids = [
        (await client.post("/v1/contacts", json={"first_name": n}, headers=h)).json()["id"]
        for n in names
    ]
    stable = set(ids[::2])
    churn = [i for i in ids if i not in stable]

    async def between() -> None:
        if churn:
            await client.delete(f"/v1/contacts/{churn.pop()}", headers=h)
        await client.post(
            "/v1/contacts", json={"first_name": f"N{rng.randrange(1000):03d}"}, headers=h
        )

    seen = await _walk(client, "/v1/contacts", h, between)
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert stable <= set(seen), "a row that stayed was skipped"


async def test_duplicate_pages_survive_inserts_and_deletes(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = acct.headers("editor")
    contacts = [
        (await client.post("/v1/contacts", json={"first_name": f"D{i}"}, headers=h)).json()["id"]
        for i in range(12)
    ]
    pairs = [(a, b) for i, a in enumerate(contacts) for b in contacts[i + 1 :]]
    rng = random.Random(3)
    rng.shuffle(pairs)
    first, later = pairs[:30], pairs[30:]
    ids = []
    async with sessions() as session, session.begin():
        for a, b in first:
            ids.append(
                await session.scalar(
                    text(
                        "INSERT INTO duplicate_candidates (account_id, contact_id,"
                        " duplicate_contact_id, score, reasons, confidence) VALUES (:acc, :a,"
                        " :b, :s, ARRAY['name_match'], :c) RETURNING id"
                    ),
                    {
                        "acc": acct.id,
                        "a": a,
                        "b": b,
                        "s": Decimal(rng.choice(["0.5", "0.7", "0.9"])),
                        "c": rng.choice([0.013, 0.5, 0.999]),
                    },
                )
            )
    stable = set(ids[::2])
    churn = [i for i in ids if i not in stable]

    async def between() -> None:
        async with sessions() as session, session.begin():
            if churn:
                await session.execute(
                    text("DELETE FROM duplicate_candidates WHERE id = :i"), {"i": churn.pop()}
                )
            if later:
                a, b = later.pop()
                await session.execute(
                    text(
                        "INSERT INTO duplicate_candidates (account_id, contact_id,"
                        " duplicate_contact_id, score, reasons) VALUES (:acc, :a, :b, 0.7,"
                        " ARRAY['name_match'])"
                    ),
                    {"acc": acct.id, "a": a, "b": b},
                )

    seen = await _walk(client, "/v1/duplicates", h, between)
    assert len(seen) == len(set(seen))
    assert stable <= set(seen)
