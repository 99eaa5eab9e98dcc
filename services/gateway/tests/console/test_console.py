"""The web console: token → cookie session, same services and roles, CSRF on forms."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_gateway.testing import TestAccount, console_sign_in


async def _sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await console_sign_in(client, token)


def _csrf(html: str) -> str:
    found = re.search(r"name='?\"?csrf'?\"? value='?\"?([0-9a-f]+)", html)
    assert found is not None
    return found.group(1)


async def test_sign_in_browse_and_dismiss_with_csrf(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bad = await _sign_in(client, "kith_wrong")
    assert bad.status_code == 200
    assert "That token is not valid." in bad.text
    h = acct.headers("editor")
    a = (
        await client.post(
            "/v1/contacts",
            json={"first_name": "Zoë", "fields": [{"type": "mobile", "value": "2025550143"}]},
            headers=h,
        )
    ).json()["id"]
    b = (await client.post("/v1/contacts", json={"first_name": "Zoe"}, headers=h)).json()["id"]
    foreign = (
        await client.post("/v1/contacts", json={"first_name": "Nope"}, headers=other.headers())
    ).json()["id"]
    async with sessions() as session, session.begin():
        candidate = await session.scalar(
            text(
                "INSERT INTO duplicate_candidates (account_id, contact_id, duplicate_contact_id,"
                " score, reasons, confidence, evidence) VALUES (:acc, :a, :b, 0.9,"
                " ARRAY['name_match'], 0.4, CAST(:ev AS jsonb)) RETURNING id"
            ),
            {
                "acc": acct.id,
                "a": min(a, b),
                "b": max(a, b),
                "ev": '{"name": {"outcome": "agree", "level": "close", "weight": 9.1},'
                ' "phone": {"outcome": "missing", "level": "missing", "weight": 0.0}}',
            },
        )

    signed = await _sign_in(client, acct.tokens["editor"])
    assert signed.status_code == 303
    cookie = signed.cookies.get("kith_console")
    assert cookie
    assert acct.tokens["editor"] not in cookie
    client.cookies.set("kith_console", cookie, path="/console")

    listing = await client.get("/console/contacts")
    assert listing.status_code == 200
    assert "Zoë" in listing.text
    detail = await client.get(f"/console/contacts/{a}")
    assert "+12025550143" in detail.text
    assert "Possible duplicates of this contact" in detail.text
    assert f'action="/console/duplicates/{candidate}/dismiss"' in detail.text
    assert (await client.get(f"/console/contacts/{foreign}")).status_code == 404

    page = await client.get("/console/duplicates")
    assert "Not a duplicate" in page.text
    forged = await client.post(f"/console/duplicates/{candidate}/dismiss", data={"csrf": "0" * 64})
    assert forged.status_code == 403
    assert "✓ same" in page.text  # the names agree (evidence shown side by side)
    back = "/console/duplicates?status=pending&sort=confidence&cursor=abc"
    done = await client.post(
        f"/console/duplicates/{candidate}/dismiss", data={"csrf": _csrf(page.text), "back": back}
    )
    assert done.status_code == 303
    assert done.headers["location"] == back  # the list keeps its position
    counts = (await client.get("/v1/duplicates/counts", headers=h)).json()
    assert counts["dismissed"] == 1
    client.cookies.clear()


async def test_viewer_cannot_dismiss_and_revoked_token_signs_out(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    signed = await _sign_in(client, acct.tokens["viewer"])
    client.cookies.set("kith_console", signed.cookies["kith_console"], path="/console")
    page = await client.get("/console/duplicates")
    assert "Not a duplicate" not in page.text
    refused = await client.post("/console/duplicates/1/dismiss", data={"csrf": _csrf(page.text)})
    assert refused.status_code == 403
    tokens = (await client.get("/v1/tokens", headers=acct.headers("admin"))).json()["data"]
    viewer_token = next(t for t in tokens if t["user_id"] == acct.user_ids["viewer"])
    await client.delete(f"/v1/tokens/{viewer_token['id']}", headers=acct.headers("admin"))
    after = await client.get("/console/contacts")
    assert after.status_code == 303
    assert after.headers["location"] == "/console/login"
    client.cookies.clear()
