"""The token → principal cache: one query per read, and what a revocation does to it.

Through this process a revocation or role change is immediate; made elsewhere (another
replica, the CLI, SQL) it reaches this process when the entry expires (5 s). The clock is
the cache's own, so expiry is driven by the test, not waited for.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_gateway.deps import PRINCIPALS
from kith_gateway.principals import TTL_SECONDS, PrincipalCache
from kith_gateway.testing import TestAccount


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_ttl_seconds_and_never_past_the_token_expiry() -> None:
    clock = Clock()
    cache: PrincipalCache[str] = PrincipalCache(5.0, clock=clock)
    cache.put(b"a", "alice", expires_at=None)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    cache.put(b"b", "bob", expires_at=soon)
    clock.now += 0.5
    assert (cache.get(b"a"), cache.get(b"b")) == ("alice", "bob")
    clock.now += 1.0
    assert (cache.get(b"a"), cache.get(b"b")) == ("alice", None)
    clock.now += 4.0
    assert cache.get(b"a") is None
    cache.put(b"c", "carol", expires_at=None)
    cache.forget_all()
    assert cache.get(b"c") is None


def test_a_zero_ttl_caches_nothing_and_a_full_cache_starts_over() -> None:
    off: PrincipalCache[str] = PrincipalCache(0)
    off.put(b"a", "alice", expires_at=None)
    assert off.get(b"a") is None
    small: PrincipalCache[str] = PrincipalCache(5.0, max_entries=2)
    for key in (b"a", b"b", b"c"):
        small.put(key, key.decode(), expires_at=None)
    assert [small.get(k) for k in (b"a", b"b", b"c")] == [None, None, "c"]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(PRINCIPALS, "clock", clock)
    PRINCIPALS.forget_all()
    return clock


async def test_a_role_lowered_through_this_gateway_applies_at_once(
    client: httpx.AsyncClient, acct: TestAccount, clock: Clock
) -> None:
    editor = acct.headers("editor")
    assert (await client.post("/v1/contacts", json={"first_name": "A"}, headers=editor)).is_success
    demoted = await client.patch(
        f"/v1/users/{acct.user_ids['editor']}", json={"role": "viewer"}, headers=acct.headers()
    )
    assert demoted.status_code == 200
    refused = await client.post("/v1/contacts", json={"first_name": "B"}, headers=editor)
    assert refused.status_code == 403


async def test_a_token_revoked_elsewhere_works_here_until_its_entry_expires(
    client: httpx.AsyncClient,
    acct: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    viewer = acct.headers("viewer")
    assert (await client.get("/v1/me", headers=viewer)).status_code == 200
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE api_tokens SET revoked_at = now() WHERE user_id = :u"),
            {"u": acct.user_ids["viewer"]},
        )
    clock.now += TTL_SECONDS - 0.1
    assert (await client.get("/v1/me", headers=viewer)).status_code == 200
    clock.now += 0.2
    assert (await client.get("/v1/me", headers=viewer)).status_code == 401
