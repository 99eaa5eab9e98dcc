"""Contacts over HTTP: phones normalised with the account region, formatted per setting."""

from __future__ import annotations

import httpx

from kith_gateway.testing import TestAccount


async def test_phone_is_stored_e164_and_shown_per_account_format(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    created = await client.post(
        "/v1/contacts",
        json={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "fields": [{"type": "mobile", "value": "(202) 555-0143"}],
        },
        headers=acct.headers("editor"),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["display_name"] == "Ada Lovelace"
    phone = body["fields"][0]
    assert phone["value"] == "+12025550143"  # locale en → region US
    assert phone["formatted"] == "+12025550143"

    patched = await client.patch(
        "/v1/account", json={"phone_format": "national"}, headers=acct.headers("admin")
    )
    assert patched.status_code == 200
    again = await client.get(f"/v1/contacts/{body['id']}", headers=acct.headers("viewer"))
    assert again.json()["fields"][0]["formatted"] == "(202) 555-0143"
    assert again.json()["fields"][0]["value"] == "+12025550143"


async def test_unknown_phone_format_is_422_with_field(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    response = await client.patch(
        "/v1/account", json={"phone_format": "fancy"}, headers=acct.headers("admin")
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["phone_format"]


async def test_field_edit_renormalises_and_search_finds_phone(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    contact = (
        await client.post(
            "/v1/contacts",
            json={"first_name": "Grace", "fields": [{"type": "email", "value": " g@x.org "}]},
            headers=acct.headers("editor"),
        )
    ).json()
    added = await client.post(
        f"/v1/contacts/{contact['id']}/fields",
        json={"type": "phone", "value": "202-555-0199"},
        headers=acct.headers("editor"),
    )
    assert added.status_code == 201
    assert added.json()["value"] == "+12025550199"
    found = await client.get(
        "/v1/contacts", params={"q": "202 555 0199"}, headers=acct.headers("viewer")
    )
    assert [c["id"] for c in found.json()["data"]] == [contact["id"]]
    by_mail = await client.get(
        "/v1/contacts", params={"q": "g@x.org"}, headers=acct.headers("viewer")
    )
    assert [c["id"] for c in by_mail.json()["data"]] == [contact["id"]]


async def test_soft_delete_and_restore(client: httpx.AsyncClient, acct: TestAccount) -> None:
    h = acct.headers("editor")
    cid = (await client.post("/v1/contacts", json={"first_name": "Tmp"}, headers=h)).json()["id"]
    assert (await client.delete(f"/v1/contacts/{cid}", headers=h)).status_code == 204
    live = await client.get("/v1/contacts", headers=h)
    assert cid not in [c["id"] for c in live.json()["data"]]
    trash = await client.get("/v1/contacts", params={"trashed": "true"}, headers=h)
    assert cid in [c["id"] for c in trash.json()["data"]]
    edit = await client.patch(f"/v1/contacts/{cid}", json={"nickname": "x"}, headers=h)
    assert edit.status_code == 409
    restored = await client.post(f"/v1/contacts/{cid}/restore", headers=h)
    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None


async def test_request_id_is_echoed(client: httpx.AsyncClient, acct: TestAccount) -> None:
    response = await client.get(
        "/v1/me", headers={**acct.headers("viewer"), "X-Request-Id": "abc-123"}
    )
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["role"] == "viewer"
