"""A walk over every route with two accounts (gateway.md acceptance).

- no token or a wrong token → 401 (and an operator token on an account route → 403);
- a role below the route's → 403 (an account admin on /v1/admin/* → 403);
- account A naming account B's ids → 404, and nothing of account B changes.
The route table must cover the OpenAPI document: a new route without a row fails the walk.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_gateway.services.records import KINDS
from kith_gateway.testing import TestAccount, seed_records


@dataclass(frozen=True)
class R:
    method: str
    path: str
    role: str  # viewer | editor | admin | operator | none
    body: Any = None
    foreign: bool = False  # the route names another account's resource (→ 404)


ROUTES: list[R] = [
    R("GET", "/v1/me", "viewer"),
    R("GET", "/v1/account", "viewer"),
    R("PATCH", "/v1/account", "admin", {"timezone": "Europe/Paris"}),
    R("GET", "/v1/phone-regions", "viewer"),
    R("GET", "/v1/contacts", "viewer"),
    R("POST", "/v1/contacts", "editor", {"first_name": "X"}),
    R("GET", "/v1/contacts/{contact}", "viewer", foreign=True),
    R("PATCH", "/v1/contacts/{contact}", "editor", {"nickname": "z"}, foreign=True),
    R("DELETE", "/v1/contacts/{contact}", "editor", foreign=True),
    R("POST", "/v1/contacts/{contact}/restore", "editor", foreign=True),
    R("POST", "/v1/contacts/{contact}/fields", "editor", {"type": "email", "value": "a@b.c"}, True),
    R("PATCH", "/v1/contacts/{contact}/fields/{field}", "editor", {"label": "w"}, True),
    R("DELETE", "/v1/contacts/{contact}/fields/{field}", "editor", foreign=True),
    R("POST", "/v1/contacts/{contact}/addresses", "editor", {"city": "Oslo"}, True),
    R("PATCH", "/v1/contacts/{contact}/addresses/{address}", "editor", {"city": "Bergen"}, True),
    R("DELETE", "/v1/contacts/{contact}/addresses/{address}", "editor", foreign=True),
    R("GET", "/v1/contacts/{contact}/duplicates", "viewer", foreign=True),
    R("GET", "/v1/duplicates", "viewer"),
    R("GET", "/v1/duplicates/counts", "viewer"),
    R("POST", "/v1/duplicates/scan", "admin"),
    R("POST", "/v1/duplicates/{candidate}/dismiss", "editor", foreign=True),
    R("POST", "/v1/merges/preview", "viewer", "merge", foreign=True),
    R("POST", "/v1/merges", "editor", "merge", foreign=True),
    R("GET", "/v1/merges/{merge}", "editor", foreign=True),
    R("POST", "/v1/imports/monica/check", "editor", {"api_url": "http://m.test", "api_key": "k"}),
    R("POST", "/v1/imports", "editor", {"api_url": "http://m.test", "api_key": "k"}),
    R("GET", "/v1/imports", "viewer"),
    R("GET", "/v1/imports/{import}", "viewer", foreign=True),
    R("POST", "/v1/imports/{import}/cancel", "editor", foreign=True),
    R("POST", "/v1/imports/{import}/media/retry", "editor", {"api_key": "k"}, foreign=True),
    R("POST", "/v1/account/reset", "admin", {"confirm": "RESET"}),
    R("GET", "/v1/account/resets", "viewer"),
    R("GET", "/v1/account/resets/{reset}", "viewer", foreign=True),
    R("GET", "/v1/events", "viewer"),
    R("GET", "/v1/users", "admin"),
    R("POST", "/v1/users", "admin", {"email": "n@example.com", "role": "viewer"}),
    R("PATCH", "/v1/users/{user}", "admin", {"role": "editor"}, foreign=True),
    R("DELETE", "/v1/users/{user}", "admin", foreign=True),
    R("GET", "/v1/tokens", "admin"),
    R("POST", "/v1/tokens", "admin", "token", foreign=True),
    R("DELETE", "/v1/tokens/{token}", "admin", foreign=True),
    R("POST", "/v1/invitations", "admin", {"email": "i@example.com", "role": "viewer"}),
    R("DELETE", "/v1/invitations/{invitation}", "admin", foreign=True),
    R("POST", "/v1/invitations/accept", "none", {"token": "nope", "display_name": "N"}),
    R("GET", "/v1/admin/bus", "operator"),
    R("GET", "/v1/admin/dlq", "operator"),
    R("POST", "/v1/admin/dlq/{seq}/replay", "operator"),
    R("POST", "/v1/admin/phones/renormalize", "operator", {}),
]
# Every kind of record: the list (filtered by another account's contact → 404) and one item.
ROUTES += (
    [R("GET", f"/v1/{kind.path}", "viewer") for kind in KINDS]
    + [
        R("GET", f"/v1/{kind.path}?contact_id={{contact}}", "viewer", foreign=True)
        for kind in KINDS
        if kind.by_contact
    ]
    + [R("GET", f"/v1/{kind.path}/{{{kind.path}}}", "viewer", foreign=True) for kind in KINDS]
    + [
        R("GET", f"/v1/{p}/{{{p}}}/content", "viewer", foreign=True)
        for p in ("photos", "documents")
    ]
    + [
        R("GET", "/v1/contacts/{contact}/timeline", "viewer", foreign=True),
        R("POST", "/v1/notes", "editor", "note", foreign=True),
        R("PATCH", "/v1/notes/{notes}", "editor", {"body": "edited"}, foreign=True),
        R("DELETE", "/v1/notes/{notes}", "editor", foreign=True),
        R("PATCH", "/v1/tasks/{tasks}", "editor", {"status": "completed"}, foreign=True),
    ]
)
_LOWER = {"editor": "viewer", "admin": "editor"}
_B_TABLES = (
    "contacts",
    "contact_fields",
    "addresses",
    "duplicate_candidates",
    "contact_merges",
    "imports",
    "account_resets",
    "users",
    "api_tokens",
    "account_invitations",
    "audit_logs",
    "outbox",
    *(kind.source.model.__tablename__ for kind in KINDS),
    "messages",
    "activity_contacts",
)


def _template(path: str) -> str:
    out = path.split("?")[0]
    for name in (
        *(kind.path for kind in KINDS),
        "contact",
        "field",
        "address",
        "candidate",
        "merge",
        "import",
        "reset",
        "user",
        "token",
        "invitation",
        "seq",
    ):
        out = out.replace("{" + name + "}", "{x}")
    return out


def test_route_table_covers_the_openapi_document(api: FastAPI) -> None:
    documented = {
        (method.upper(), _template_openapi(path))
        for path, item in api.openapi()["paths"].items()
        for method in item
    }
    walked = {(r.method, _template(r.path)) for r in ROUTES}
    assert documented == walked


def _template_openapi(path: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}", "{x}", path)


async def _seed_other(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], b: TestAccount
) -> dict[str, Any]:
    h = b.headers("admin")
    c1 = (
        await client.post(
            "/v1/contacts",
            json={
                "first_name": "Bea",
                "fields": [{"type": "email", "value": "bea@b.test"}],
                "addresses": [{"line1": "1 Main St", "postal_code": "1000"}],
            },
            headers=h,
        )
    ).json()
    c2 = (await client.post("/v1/contacts", json={"first_name": "Bea2"}, headers=h)).json()
    imp = await client.post(
        "/v1/imports", json={"api_url": "http://m.test", "api_key": "secret-b"}, headers=h
    )
    token = (await client.post("/v1/tokens", json={"name": "t"}, headers=h)).json()
    invitation = (
        await client.post(
            "/v1/invitations",
            json={"email": f"x-{uuid.uuid4().hex[:6]}@b.test", "role": "viewer"},
            headers=h,
        )
    ).json()
    merge_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        low, high = sorted((c1["id"], c2["id"]))
        candidate = await session.scalar(
            text(
                "INSERT INTO duplicate_candidates (account_id, contact_id, duplicate_contact_id,"
                " score, reasons) VALUES (:a, :l, :h, 0.9, ARRAY['name_match']) RETURNING id"
            ),
            {"a": b.id, "l": low, "h": high},
        )
        reset = await session.scalar(
            text(
                "INSERT INTO account_resets (account_id, status, stage, generation)"
                " VALUES (:a, 'completed', 'done', 1) RETURNING id"
            ),
            {"a": b.id},
        )
        await session.execute(
            text(
                "INSERT INTO contact_merges (merge_id, account_id, survivor_id, loser_id, source,"
                " status) VALUES (:m, :a, :s, :l, 'api', 'done')"
            ),
            {"m": merge_id, "a": b.id, "s": c1["id"], "l": c2["id"]},
        )
    records = await seed_records(sessions, b.id, [c1["id"], c2["id"]])
    return {
        **{path: ids[0] for path, ids in records.ids.items()},
        "contact": c1["id"],
        "contact2": c2["id"],
        "field": c1["fields"][0]["id"],
        "address": c1["addresses"][0]["id"],
        "candidate": candidate,
        "merge": merge_id,
        "import": imp.json()["id"],
        "reset": reset,
        "user": b.user_ids["viewer"],
        "token": token["id"],
        "invitation": invitation["id"],
        "seq": 1,
    }


def _request(route: R, ids: dict[str, Any]) -> tuple[str, str, Any]:
    path = route.path.format(**ids)
    body = route.body
    if body == "merge":
        body = {"survivor_id": ids["contact"], "loser_id": ids["contact2"]}
    elif body == "note":
        body = {"contact_id": ids["contact"], "body": "a note"}
    elif body == "token":
        body = {"name": "x", "user_id": ids["user"]}
    return route.method, path, body


async def _snapshot(sessions: async_sessionmaker[AsyncSession], account_id: int) -> dict[str, str]:
    out = {}
    async with sessions() as session:
        for table in _B_TABLES:
            out[table] = await session.scalar(
                text(
                    f"SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '')"
                    f" FROM {table} t WHERE account_id = :a"
                ),
                {"a": account_id},
            )
        out["accounts"] = await session.scalar(
            text("SELECT t::text FROM accounts t WHERE id = :a"), {"a": account_id}
        )
    return out


async def _call(
    client: httpx.AsyncClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    if path == "/v1/events":
        async with client.stream(method, path, headers=headers) as response:
            return response
    return await client.request(method, path, json=body, headers=headers)


async def test_missing_or_wrong_token_is_401(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _seed_other(client, sessions, other)
    failures = []
    for route in ROUTES:
        if route.role == "none":
            continue
        method, path, body = _request(route, ids)
        for headers in (
            {},
            {"Authorization": "Bearer kith_not-a-real-token-at-all-000000"},
            {"Authorization": "Basic Zm9vOmJhcg=="},
        ):
            response = await _call(client, method, path, body, headers)
            if response.status_code != 401:
                failures.append((method, path, headers, response.status_code))
    assert failures == []


async def test_too_low_role_is_403(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    operator_token: str,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _seed_other(client, sessions, other)
    operator = {"Authorization": f"Bearer {operator_token}"}
    failures = []
    for route in ROUTES:
        method, path, body = _request(route, ids)
        attempts: list[dict[str, str]] = []
        if route.role == "operator":
            attempts = [acct.headers("admin"), acct.headers("viewer")]
        elif route.role in _LOWER:
            lower = _LOWER[route.role]
            attempts = [acct.headers(lower), operator]
            if lower == "editor":
                attempts.append(acct.headers("viewer"))
        elif route.role == "viewer":
            attempts = [operator]
        for headers in attempts:
            response = await _call(client, method, path, body, headers)
            if response.status_code != 403:
                failures.append((method, path, response.status_code))
    assert failures == []


async def test_other_accounts_ids_are_404_and_change_nothing(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _seed_other(client, sessions, other)
    before = await _snapshot(sessions, other.id)
    failures = []
    foreign = [r for r in ROUTES if r.foreign]
    assert len(foreign) >= 20
    for route in foreign:
        method, path, body = _request(route, ids)
        response = await _call(client, method, path, body, acct.headers("admin"))
        if response.status_code != 404:
            failures.append((method, path, response.status_code, response.text[:200]))
    assert failures == []
    assert await _snapshot(sessions, other.id) == before


@pytest.mark.parametrize("route", [r for r in ROUTES if r.role == "none"], ids=lambda r: r.path)
async def test_unauthenticated_routes_do_not_need_a_token(
    client: httpx.AsyncClient, route: R
) -> None:
    response = await client.request(route.method, route.path, json=route.body)
    assert response.status_code == 401  # the invitation token itself is the credential
    assert response.json()["type"] == "/problems/invitation-invalid"
