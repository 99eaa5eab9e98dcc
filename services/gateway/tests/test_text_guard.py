"""Text PostgreSQL cannot store (NUL, lone surrogates) is a 422 naming the field, never a 500."""

from __future__ import annotations

import httpx

from kith_gateway.testing import TestAccount


def _field_of(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/invalid-input"
    return str(body["errors"][0]["field"])


async def test_nul_or_lone_surrogate_anywhere_is_422_naming_the_field(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    h = acct.headers("admin")
    json_h = {**h, "Content-Type": "application/json"}
    assert _field_of(await client.get("/v1/contacts?q=%00", headers=h)) == "q"
    assert _field_of(await client.get("/v1/notes?cursor=a%00b", headers=h)) == "cursor"
    created = await client.post("/v1/contacts", json={"first_name": "A\u0000b"}, headers=h)
    assert _field_of(created) == "first_name"
    nested = await client.post(
        "/v1/contacts",
        json={"first_name": "Ann", "fields": [{"type": "email", "value": "a\u0000@b.c"}]},
        headers=h,
    )
    assert _field_of(nested) == "fields.0.value"
    surrogate = await client.post(
        "/v1/contacts", content=b'{"first_name": "A\\ud800"}', headers=json_h
    )
    assert _field_of(surrogate) == "first_name"
    mislabelled = await client.post(
        "/v1/imports",
        content=b'{"api_url": "http://m.test/\\u0000", "api_key": "k"}',
        headers={**h, "Content-Type": "text/plain"},
    )
    assert _field_of(mislabelled) == "api_url"
    upload = await client.post(
        "/v1/imports",
        files={"file": ("people.vcf", b"BEGIN:VCARD\r\nEND:VCARD\r\n", "text/vcard")},
        data={"options": '{"region": "U\\u0000S"}'},
        headers=h,
    )
    assert _field_of(upload) == "options.region"
    account = await client.patch("/v1/account", json={"name": "Home\u0000"}, headers=h)
    assert _field_of(account) == "name"
    # Nothing was written, and the same requests without the NUL work.
    assert (await client.get("/v1/contacts", headers=h)).json()["data"] == []
    assert (await client.get("/v1/account", headers=h)).json()["name"] != "Home\u0000"
    assert (await client.get("/v1/contacts?q=A", headers=h)).status_code == 200
    assert (
        await client.post("/v1/contacts", json={"first_name": "Ab"}, headers=h)
    ).status_code == 201
