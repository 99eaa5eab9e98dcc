"""Console sessions: login CSRF, Secure cookies behind a trusted proxy, server-side sign-out."""

from __future__ import annotations

import re

import httpx
import pytest

from kith_common.settings import Settings
from kith_gateway.testing import TestAccount, console_sign_in, make_account, running_gateway

HTTPS = {"X-Forwarded-Proto": "https"}


async def test_a_sign_in_form_posted_from_elsewhere_is_refused(client: httpx.AsyncClient) -> None:
    client.cookies.clear()
    forged = await client.post("/console/login", data={"token": "kith_attacker"})
    assert forged.status_code == 403
    assert "kith_console" not in forged.cookies


@pytest.mark.parametrize(("trusted", "secure"), [("127.0.0.1", True), ("", False)])
async def test_the_cookie_is_secure_behind_a_trusted_tls_proxy_only(
    settings: Settings, trusted: str, secure: bool
) -> None:
    async with running_gateway(settings, trusted_proxies=trusted) as (runtime, base):
        acct = await make_account(runtime.sessions)
        async with httpx.AsyncClient(base_url=base, headers=HTTPS) as http:
            signed = await console_sign_in(http, acct.tokens["viewer"])
        assert signed.status_code == 303
        [cookie] = [c for c in signed.headers.get_list("set-cookie") if "kith_console=" in c]
        assert ("; secure" in cookie.lower()) is secure


async def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    client.cookies.clear()
    signed = await console_sign_in(client, acct.tokens["editor"])
    cookie = signed.cookies["kith_console"]
    assert acct.tokens["editor"] not in cookie
    client.cookies.set("kith_console", cookie, path="/console")
    page = await client.get("/console/account")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found is not None
    out = await client.post("/console/logout", data={"csrf": found.group(1)})
    assert out.status_code == 303
    # A copy kept from before (another tab, a stolen cookie) no longer signs anyone in.
    client.cookies.set("kith_console", cookie, path="/console")
    replay = await client.get("/console/account")
    assert replay.status_code == 303
    assert replay.headers["location"] == "/console/login"
    # The token itself still works, in the API and for a new sign-in.
    assert (await client.get("/v1/account", headers=acct.headers("editor"))).status_code == 200
    assert (await console_sign_in(client, acct.tokens["editor"])).status_code == 303
    client.cookies.clear()
