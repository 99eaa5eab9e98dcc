"""Console access rules: account scoping (404), roles (no controls, 403), CSRF, field errors."""

from __future__ import annotations

import re
import uuid

import httpx

from kith_gateway.testing import TestAccount, console_sign_in


async def _sign_in(client: httpx.AsyncClient, token: str) -> str:
    """Sign in and return the page's CSRF token (the cookie stays on the client)."""
    client.cookies.clear()
    signed = await console_sign_in(client, token)
    assert signed.status_code == 303
    client.cookies.set("kith_console", signed.cookies["kith_console"], path="/console")
    page = await client.get("/console/account")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found is not None
    return found.group(1)


async def _contact(client: httpx.AsyncClient, acct: TestAccount, name: str) -> int:
    made = await client.post("/v1/contacts", json={"first_name": name}, headers=acct.headers())
    return int(made.json()["id"])


async def test_another_accounts_ids_answer_404(
    client: httpx.AsyncClient, acct: TestAccount, other: TestAccount
) -> None:
    mine = await _contact(client, acct, "Mine")
    theirs = await _contact(client, other, "Theirs")
    reset = await client.post(
        "/v1/account/reset", json={"confirm": "RESET"}, headers=other.headers()
    )
    assert reset.status_code == 202
    await _sign_in(client, acct.tokens["admin"])
    for url in (
        f"/console/contacts/{theirs}",
        f"/console/resets/{reset.json()['id']}",
        f"/console/merge?a={mine}&b={theirs}",
        f"/console/merge/fields?survivor={mine}&loser={theirs}",
        f"/console/merges/{uuid.uuid4()}",
        "/console/imports/999999",
    ):
        answer = await client.get(url)
        assert answer.status_code == 404, url
        assert "Theirs" not in answer.text
    assert (await client.get(f"/console/contacts/{mine}")).status_code == 200
    client.cookies.clear()


async def test_a_viewer_sees_no_controls_and_forged_posts_answer_403(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    a = await _contact(client, acct, "Ann")
    b = await _contact(client, acct, "Ann")
    csrf = await _sign_in(client, acct.tokens["viewer"])
    duplicates = await client.get("/console/duplicates")
    assert duplicates.status_code == 200
    assert "Scan now" not in duplicates.text
    assert "/console/merge?" not in duplicates.text
    resets = await client.get("/console/resets")
    assert "Reset this account" not in resets.text
    assert "Save settings" not in (await client.get("/console/account")).text
    assert "New import" not in (await client.get("/console/imports")).text

    forged = {
        "/console/duplicates/scan": {},
        "/console/resets": {"confirm": "RESET"},
        "/console/merge": {"survivor": str(a), "loser": str(b)},
        "/console/imports/check": {"api_url": "https://m.example.com", "api_key": "k"},
        "/console/account": {"name": "Hijacked", "locale": "en", "timezone": "UTC"},
        "/console/account/tokens": {"token_name": "mine now"},
    }
    for url, data in forged.items():
        answer = await client.post(url, data={"csrf": csrf, **data})
        assert answer.status_code == 403, url
    assert (await client.get(f"/console/merge?a={a}&b={b}")).status_code == 403
    runs = await client.get("/v1/account/resets", headers=acct.headers())
    assert runs.json()["data"] == []
    client.cookies.clear()


async def test_a_form_post_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    csrf = await _sign_in(client, acct.tokens["admin"])
    for url, data in {
        "/console/resets": {"confirm": "RESET"},
        "/console/duplicates/scan": {},
        "/console/account": {"name": "Renamed", "locale": "en", "timezone": "UTC"},
        "/console/logout": {},
    }.items():
        missing = await client.post(url, data=data)
        assert missing.status_code == 403, url
        wrong = await client.post(url, data={**data, "csrf": "0" * len(csrf)})
        assert wrong.status_code == 403, url
    account = await client.get("/v1/account", headers=acct.headers())
    assert account.json()["name"] != "Renamed"
    assert (await client.get("/v1/account/resets", headers=acct.headers())).json()["data"] == []
    client.cookies.clear()


async def test_field_errors_are_shown_next_to_their_field(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    csrf = await _sign_in(client, acct.tokens["admin"])
    reset = await client.post("/console/resets", data={"csrf": csrf, "confirm": "reset"})
    assert re.search(r'name="confirm"[^>]*>\s*<span class="error" id="confirm-error"', reset.text)
    check = await client.post(
        "/console/imports/check", data={"csrf": csrf, "api_url": "", "api_key": ""}
    )
    assert 'id="api_url-error"' in check.text
    assert 'id="api_key-error"' in check.text
    bad = await client.post(
        "/console/account",
        data={
            "csrf": csrf,
            "name": "Kith",
            "locale": "en",
            "timezone": "Mars/Olympus",
            "phone_format": "e164",
        },
    )
    assert re.search(r'name="timezone"[^>]*>\s*<span class="error" id="timezone-error"', bad.text)
    saved = await client.post(
        "/console/account",
        data={
            "csrf": csrf,
            "name": "Kith",
            "locale": "de-DE",
            "timezone": "Europe/Berlin",
            "phone_format": "international",
        },
    )
    assert saved.status_code == 303
    account = (await client.get("/v1/account", headers=acct.headers())).json()
    assert (account["locale"], account["phone_format"]) == ("de-DE", "international")
    client.cookies.clear()


async def test_the_operator_page_needs_an_operator_token(
    client: httpx.AsyncClient, acct: TestAccount, operator_token: str
) -> None:
    await _sign_in(client, acct.tokens["admin"])
    assert (await client.get("/console/operator")).status_code == 403
    client.cookies.clear()
    signed = await console_sign_in(client, operator_token)
    assert signed.headers["location"] == "/console/operator"
    client.cookies.set("kith_console", signed.cookies["kith_console"], path="/console")
    page = await client.get("/console/operator")
    assert page.status_code == 200
    assert "Dead letters" in page.text
    assert (await client.get("/console/imports")).status_code == 403
    client.cookies.clear()
