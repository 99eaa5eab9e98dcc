"""Secrets never appear in a response or a log line (gateway.md acceptance).

Logs are captured at debug level (SQL included) while a Monica key, API tokens and an
invitation token travel through every endpoint that takes one; then the captured text and
every response other than the one-time display are searched for them.
"""

from __future__ import annotations

import io
import logging

import httpx
import pytest

from kith_common.logging import configure_logging
from kith_gateway.testing import TestAccount

MONICA_KEY = "mk_LIVE_4f1c9e7a2b8d6e3f0a1b2c3d4e5f6a7b"


@pytest.fixture
def captured(capfd: pytest.CaptureFixture[str]) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(service="gateway", log_format="json", level="debug", stream=stream)
    yield stream  # type: ignore[misc]
    configure_logging(service="test", log_format="console", level="info")


async def test_keys_and_tokens_stay_out_of_logs_and_responses(
    client: httpx.AsyncClient,
    acct: TestAccount,
    captured: io.StringIO,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin, editor = acct.headers("admin"), acct.headers("editor")
    responses: list[httpx.Response] = []
    monica = {"api_url": "https://monica.example", "api_key": MONICA_KEY}
    responses.append(await client.post("/v1/imports/monica/check", json=monica, headers=editor))
    started = await client.post("/v1/imports", json=monica, headers=editor)
    responses += [started, await client.post("/v1/imports", json=monica, headers=editor)]
    import_id = started.json()["id"]
    responses.append(
        await client.post(
            "/v1/imports", json={**monica, "options": {"bogus": True}}, headers=editor
        )
    )
    responses.append(
        await client.post(
            "/v1/imports/monica/check",
            json={"api_url": "ftp://x", "api_key": MONICA_KEY},
            headers=editor,
        )
    )
    responses.append(
        await client.post(
            f"/v1/imports/{import_id}/media/retry", json={"api_key": MONICA_KEY}, headers=editor
        )
    )
    responses += [
        await client.get(f"/v1/imports/{import_id}", headers=editor),
        await client.get("/v1/imports", headers=editor),
        await client.post(f"/v1/imports/{import_id}/cancel", headers=editor),
    ]

    created = await client.post("/v1/tokens", json={"name": "ci"}, headers=admin)
    new_token = created.json()["token"]
    invite = await client.post(
        "/v1/invitations",
        json={"email": f"s-{acct.id}@example.com", "role": "viewer"},
        headers=admin,
    )
    invitation_token = invite.json()["token"]
    accepted = await client.post(
        "/v1/invitations/accept", json={"token": invitation_token, "display_name": "Sam"}
    )
    joined_token = accepted.json()["token"]["token"]
    responses += [
        await client.get("/v1/tokens", headers=admin),
        await client.get("/v1/me", headers={"Authorization": f"Bearer {new_token}"}),
        await client.get("/v1/me", headers={"Authorization": f"Bearer {new_token}x"}),
        await client.post(
            "/v1/invitations/accept", json={"token": invitation_token, "display_name": "S"}
        ),
        await client.get("/v1/me", headers={"Authorization": f"Bearer {joined_token}"}),
    ]

    secrets = [MONICA_KEY, new_token, invitation_token, joined_token, *acct.tokens.values()]
    for response in responses:
        for secret in secrets:
            assert secret not in response.text, (response.request.url, response.status_code)
    out, err = capfd.readouterr()
    logs = captured.getvalue() + out + err + caplog.text
    assert "import_requested" in logs  # the capture works
    assert "connection_check_unanswered" in logs
    for secret in secrets:
        assert secret not in logs
