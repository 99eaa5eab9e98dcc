"""Console sign-in over a real server: login CSRF, Secure cookies behind a trusted proxy."""

from __future__ import annotations

import httpx
import pytest

from kith_common.ports import free_port
from kith_common.settings import Settings
from kith_common.testing import eventually
from kith_gateway.app import build_app
from kith_gateway.testing import console_sign_in, make_account

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
    port = free_port()
    runtime = build_app(
        settings.model_copy(update={"gateway_port": port, "trusted_proxies": trusted})
    )
    await runtime.start()
    try:
        base = f"http://127.0.0.1:{port}"

        async def up() -> bool:
            try:
                async with httpx.AsyncClient() as http:
                    return (await http.get(f"{base}/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(up, timeout=20)
        acct = await make_account(runtime.sessions)
        async with httpx.AsyncClient(base_url=base, headers=HTTPS) as http:
            signed = await console_sign_in(http, acct.tokens["viewer"])
        assert signed.status_code == 303
        [cookie] = [c for c in signed.headers.get_list("set-cookie") if "kith_console=" in c]
        assert ("; secure" in cookie.lower()) is secure
    finally:
        await runtime.stop()
