"""The import wizard keeps the Monica key server-side; console pages are never cached."""

from __future__ import annotations

import contextlib
import re

import httpx
import nats
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.crypto import decrypt_secret
from kith_common.db.models import Import
from kith_common.events import subjects
from kith_common.events.payloads.imports import CheckConnectionReply, MonicaUser
from kith_common.events.registry import build_reply, parse_envelope
from kith_common.settings import Settings
from kith_gateway.testing import TestAccount

from .test_access import _sign_in

KEY = "mk_wizard_3b9f0c7e1d2a4b6c8e0f1a3b5c7d9e1f"


async def test_the_options_step_carries_a_draft_id_never_the_key(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    nats_url: str,
    stream_prefix: str,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    nc = await nats.connect(nats_url)

    async def importer(msg: nats.aio.msg.Msg) -> None:
        request = parse_envelope(subjects.RPC_IMPORT_CHECK_CONNECTION, msg.data)
        reply = CheckConnectionReply(
            ok=True, code="ok", message="Connected", monica_user=MonicaUser(id=1, name="Ann")
        )
        envelope = build_reply(subjects.RPC_IMPORT_CHECK_CONNECTION, reply, request=request)
        await msg.respond(envelope.model_dump_json().encode())

    sub = await nc.subscribe(
        f"{stream_prefix}.{subjects.RPC_IMPORT_CHECK_CONNECTION}", queue="importer", cb=importer
    )
    try:
        csrf = await _sign_in(client, acct.tokens["editor"])
        options = await client.post(
            "/console/imports/check",
            data={"csrf": csrf, "api_url": "https://m.example/", "api_key": KEY},
        )
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        await nc.close()
    assert options.status_code == 200
    assert "Start import" in options.text
    assert KEY not in options.text
    assert options.headers["Cache-Control"] == "no-store"
    found = re.search(r'name="draft" value="([^"]+)"', options.text)
    assert found is not None
    draft = found.group(1)

    # Another account cannot start an import with this account's draft.
    other_csrf = await _sign_in(client, other.tokens["editor"])
    stolen = await client.post("/console/imports", data={"csrf": other_csrf, "draft": draft})
    assert "check the connection again" in stolen.text
    csrf = await _sign_in(client, acct.tokens["editor"])
    started = await client.post("/console/imports", data={"csrf": csrf, "draft": draft})
    assert started.status_code == 303, started.text
    assert started.headers["Cache-Control"] == "no-store"
    import_id = int(started.headers["location"].rsplit("/", 1)[1])
    async with sessions() as session:
        row = await session.scalar(select(Import).where(Import.id == import_id))
    assert row is not None
    assert row.account_id == acct.id
    assert row.api_url == "https://m.example"
    assert row.api_key_encrypted is not None
    assert decrypt_secret(settings.decryption_keys(), row.api_key_encrypted) == KEY
    # The draft was taken: posting it again starts nothing.
    again = await client.post("/console/imports", data={"csrf": csrf, "draft": draft})
    assert "check the connection again" in again.text
    for url in ("/console/imports", f"/console/imports/{import_id}", "/console/login"):
        assert (await client.get(url)).headers["Cache-Control"] == "no-store", url
    client.cookies.clear()
