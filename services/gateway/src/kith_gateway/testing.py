"""Test helpers for the gateway's own tests and benchmarks: accounts with one user per role.

Everything goes through kith_common's real account and token functions, so a test's caller
is exactly what `kith admin create-account` would produce.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.accounts import create_account, issue_api_token, issue_operator_token
from kith_common.db.models import User
from kith_common.ports import free_port
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.testing import eventually


@dataclass
class TestAccount:
    """An account with an admin, an editor and a viewer, each with a token."""

    __test__ = False  # not a pytest class

    id: int
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


async def make_account(
    sessions: async_sessionmaker[AsyncSession], *, locale: str = "en", name: str = "Test"
) -> TestAccount:
    tag = uuid.uuid4().hex[:12]
    async with sessions() as session, session.begin():
        account, admin = await create_account(
            session, name=name, email=f"admin-{tag}@example.com", locale=locale
        )
        result = TestAccount(id=account.id)
        result.tokens["admin"] = await issue_api_token(session, admin, "test")
        result.user_ids["admin"] = admin.id
        for role in ("editor", "viewer"):
            user = User(account_id=account.id, email=f"{role}-{tag}@example.com", role=role)
            session.add(user)
            await session.flush()
            result.tokens[role] = await issue_api_token(session, user, "test")
            result.user_ids[role] = user.id
    return result


async def make_operator(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as session, session.begin():
        return await issue_operator_token(session, f"op-{uuid.uuid4().hex[:8]}")


async def console_sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Sign in to the console as a browser does: the form (its CSRF cookie), then the post."""
    form = await client.get("/console/login")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert found is not None, "the sign-in form has no CSRF token"
    client.cookies.set("kith_login", form.cookies["kith_login"], path="/console")
    return await client.post("/console/login", data={"token": token, "csrf": found.group(1)})


@asynccontextmanager
async def running_gateway(
    settings: Settings, **overrides: Any
) -> AsyncIterator[tuple[Runtime, str]]:
    """A real gateway (uvicorn on a free port) with `overrides` applied; (runtime, base URL)."""
    from kith_gateway.app import build_app  # the app imports much; only servers need it

    port = free_port()
    runtime = build_app(settings.model_copy(update={"gateway_port": port, **overrides}))
    await runtime.start()
    base = f"http://127.0.0.1:{port}"

    async def up() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"{base}/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        await eventually(up, timeout=20)
        yield runtime, base
    finally:
        await runtime.stop()
