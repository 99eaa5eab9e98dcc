"""Users, tokens and invitations: shown once, audited, the last admin kept."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import AuditLog
from kith_gateway.testing import TestAccount


async def _events(sessions: async_sessionmaker[AsyncSession], account_id: int) -> list[str]:
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(AuditLog.event)
                    .where(AuditLog.account_id == account_id)
                    .order_by(AuditLog.id)
                )
            ).all()
        )


async def test_invitation_creates_a_user_with_the_role_and_a_working_token(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = f"inv-{uuid.uuid4().hex[:8]}@example.com"
    invited = await client.post(
        "/v1/invitations", json={"email": email, "role": "editor"}, headers=acct.headers("admin")
    )
    assert invited.status_code == 201
    again = await client.post(
        "/v1/invitations", json={"email": email, "role": "viewer"}, headers=acct.headers("admin")
    )
    assert again.status_code == 409
    accepted = await client.post(
        "/v1/invitations/accept", json={"token": invited.json()["token"], "display_name": "Ines"}
    )
    assert accepted.status_code == 201
    token = accepted.json()["token"]["token"]
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "editor"
    assert me.json()["account"]["id"] == acct.id
    replay = await client.post(
        "/v1/invitations/accept", json={"token": invited.json()["token"], "display_name": "X"}
    )
    assert replay.status_code == 401
    events = await _events(sessions, acct.id)
    assert {"invitation_sent", "invitation_accepted", "user_joined"} <= set(events)


async def test_revoked_token_stops_working_and_last_admin_stays(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = acct.headers("admin")
    created = (await client.post("/v1/tokens", json={"name": "ci"}, headers=admin)).json()
    listed = (await client.get("/v1/tokens", headers=admin)).json()
    assert created["id"] in [t["id"] for t in listed["data"]]
    assert all("token" not in t for t in listed["data"])
    theirs = {"Authorization": f"Bearer {created['token']}"}
    assert (await client.get("/v1/me", headers=theirs)).status_code == 200
    assert (await client.delete(f"/v1/tokens/{created['id']}", headers=admin)).status_code == 204
    assert (await client.get("/v1/me", headers=theirs)).status_code == 401

    last = await client.delete(f"/v1/users/{acct.user_ids['admin']}", headers=admin)
    assert last.status_code == 409
    demote = await client.patch(
        f"/v1/users/{acct.user_ids['admin']}", json={"role": "viewer"}, headers=admin
    )
    assert demote.status_code == 409
    promoted = await client.patch(
        f"/v1/users/{acct.user_ids['viewer']}", json={"role": "admin"}, headers=admin
    )
    assert promoted.json()["role"] == "admin"
    removed = await client.delete(f"/v1/users/{acct.user_ids['editor']}", headers=admin)
    assert removed.status_code == 204
    assert (await client.get("/v1/me", headers=acct.headers("editor"))).status_code == 401
    events = await _events(sessions, acct.id)
    assert {"token_created", "token_revoked", "user_role_changed", "user_removed"} <= set(events)
    past = await client.post(
        "/v1/tokens", json={"name": "old", "expires_at": "2000-01-01T00:00:00Z"}, headers=admin
    )
    assert past.status_code == 422
