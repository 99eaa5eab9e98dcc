"""Reset endpoints (reset.md §2): 202 + Location, 409 reset_in_progress, 422 confirmation."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import Account, AccountReset, Outbox
from kith_gateway.testing import TestAccount


async def _generation(sessions: async_sessionmaker[AsyncSession], account_id: int) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(Account.generation).where(Account.id == account_id)) or 0
        )


@pytest.mark.parametrize(
    "body",
    [
        {"confirm": "reset"},
        {"confirm": " RESET"},
        {"confirm": 1},
        {},
        {"confirm": "RESET", "x": 1},
        [],
    ],
)
async def test_bad_confirmation_is_422_and_records_nothing(
    client: httpx.AsyncClient,
    acct: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
    body: object,
) -> None:
    before = await _generation(sessions, acct.id)
    response = await client.post("/v1/account/reset", json=body, headers=acct.headers("admin"))
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/invalid_confirmation"
    assert await _generation(sessions, acct.id) == before
    async with sessions() as session:
        assert (
            await session.scalar(select(AccountReset.id).where(AccountReset.account_id == acct.id))
            is None
        )


async def test_reset_is_accepted_then_writes_answer_409_with_the_reset(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    before = await _generation(sessions, acct.id)
    response = await client.post(
        "/v1/account/reset", json={"confirm": "RESET"}, headers=acct.headers("admin")
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "running"
    assert body["attempt"] == 1
    assert response.headers["location"] == body["status_url"] == f"/v1/account/resets/{body['id']}"
    assert await _generation(sessions, acct.id) == before + 1

    write = await client.post(
        "/v1/contacts", json={"first_name": "A"}, headers=acct.headers("editor")
    )
    assert write.status_code == 409
    problem = write.json()
    assert problem["type"] == "/problems/reset_in_progress"
    assert problem["reset_id"] == body["id"]
    assert problem["status_url"] == body["status_url"]

    again = await client.post(
        "/v1/account/reset", json={"confirm": "RESET"}, headers=acct.headers("admin")
    )
    assert again.status_code == 409
    assert again.json()["reset_id"] == body["id"]
    assert await _generation(sessions, acct.id) == before + 1

    # Reads still answer, user management is not blocked.
    assert (await client.get("/v1/contacts", headers=acct.headers("viewer"))).status_code == 200
    token = await client.post("/v1/tokens", json={"name": "during"}, headers=acct.headers("admin"))
    assert token.status_code == 201

    progress = await client.get(body["status_url"], headers=acct.headers("viewer"))
    assert progress.status_code == 200
    view = progress.json()
    assert view["status"] == "running"
    assert view["generation"] == before + 1
    assert {d["domain"] for d in view["domains"]} >= {"storage", "contacts", "imports"}
    listed = await client.get("/v1/account/resets", headers=acct.headers("viewer"))
    assert [r["id"] for r in listed.json()["data"]] == [body["id"]]

    async with sessions() as session:
        subjects = (
            await session.scalars(select(Outbox.subject).where(Outbox.account_id == acct.id))
        ).all()
    assert "kith.cmd.account.reset" in subjects


async def test_failed_reset_is_retried_with_the_same_id(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await client.post(
        "/v1/account/reset", json={"confirm": "RESET"}, headers=acct.headers("admin")
    )
    reset_id = first.json()["id"]
    async with sessions() as session, session.begin():
        await session.execute(
            update(AccountReset)
            .where(AccountReset.id == reset_id)
            .values(status="failed", error={"domain": "notes", "message": "boom"})
        )
    shown = (
        await client.get(f"/v1/account/resets/{reset_id}", headers=acct.headers("viewer"))
    ).json()
    assert shown["error"] == {"domain": "notes", "message": "boom"}
    retry = await client.post(
        "/v1/account/reset", json={"confirm": "RESET"}, headers=acct.headers("admin")
    )
    assert retry.status_code == 202
    assert retry.json()["id"] == reset_id
    assert retry.json()["attempt"] == 2
