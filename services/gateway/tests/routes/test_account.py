"""Account settings, the phone-region picker and the request-body cap."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import AuditLog
from kith_gateway.testing import TestAccount


async def test_locale_sets_the_default_phone_region(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    patched = await client.patch(
        "/v1/account",
        json={"locale": "en-GB", "phone_format": "international"},
        headers=acct.headers("admin"),
    )
    assert patched.status_code == 200
    assert patched.json()["default_phone_region"] == "GB"
    created = await client.post(
        "/v1/contacts",
        json={"first_name": "Jo", "fields": [{"type": "phone", "value": "020 7946 0958"}]},
        headers=acct.headers("editor"),
    )
    field = created.json()["fields"][0]
    assert field["value"] == "+442079460958"
    assert field["formatted"] == "+44 20 7946 0958"


async def test_settings_need_admin_and_valid_values(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    editor = await client.patch("/v1/account", json={"name": "x"}, headers=acct.headers("editor"))
    assert editor.status_code == 403
    bad_zone = await client.patch(
        "/v1/account", json={"timezone": "Mars/Olympus"}, headers=acct.headers("admin")
    )
    assert bad_zone.status_code == 422
    assert bad_zone.json()["errors"][0]["field"] == "timezone"
    unknown = await client.patch(
        "/v1/account", json={"colour": "red"}, headers=acct.headers("admin")
    )
    assert unknown.status_code == 422


async def test_phone_regions_are_localised_sorted_and_suggest_the_account_region(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    french = (
        await client.get(
            "/v1/phone-regions", params={"locale": "fr"}, headers=acct.headers("viewer")
        )
    ).json()
    labels = [r["label"] for r in french["data"]]
    us = labels.index("États-Unis (+1)")
    eswatini = next(i for i, label in enumerate(labels) if label.startswith("Eswatini"))
    ethiopia = next(i for i, label in enumerate(labels) if label.startswith("Éthiopie"))
    assert eswatini < us < ethiopia
    assert french["suggested"] == "US"  # the account's locale (en), not the list's


async def test_json_body_over_one_mib_is_413(client: httpx.AsyncClient, acct: TestAccount) -> None:
    response = await client.post(
        "/v1/contacts",
        content=b'{"first_name": "' + b"x" * (1024 * 1024) + b'"}',
        headers={**acct.headers("editor"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_archiving_is_audited_as_such(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = acct.headers("editor")
    cid = (await client.post("/v1/contacts", json={"first_name": "Arc"}, headers=h)).json()["id"]
    await client.patch(f"/v1/contacts/{cid}", json={"is_archived": True}, headers=h)
    async with sessions() as session:
        events = (
            await session.scalars(
                select(AuditLog.event).where(AuditLog.contact_id == cid).order_by(AuditLog.id)
            )
        ).all()
    assert events == ["contact_created", "contact_archived"]


async def test_chunked_body_over_the_cap_is_413(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    async def chunks():  # no Content-Length: the cap is enforced while reading
        yield b'{"first_name": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    response = await client.post(
        "/v1/contacts",
        content=chunks(),
        headers={**acct.headers("editor"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
