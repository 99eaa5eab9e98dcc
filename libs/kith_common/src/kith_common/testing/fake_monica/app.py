"""The fake Monica v4 server: an ASGI app reproducing monica-api-v4.md §12.

`FakeMonica(world)` is the control object (faults, rate limit, counters, data changes) and
`FakeMonica.app` the ASGI app. Behaviours: Laravel pagination and errors, 401 vs login
redirect by Accept header, a per-user fixed-window rate limit with real 429s, listing filters,
direct GET of any contact of the token's account, account-wide lists, the deterministic
tie-group drop under LIMIT/OFFSET, per-endpoint counters and an ordered request log, and
scripted faults per endpoint template, page or id (the file routes `/public/{file}` and
`/store/{file}` included). With `throttle_files`, a file request carrying a valid token spends
that user's rate-limit budget like an API call (a Monica whose proxy throttles every route).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kith_common.testing.fake_monica.world import (
    ITEM_ENDPOINTS,
    Contact,
    World,
    gather_related,
    render_address,
    render_contact,
    render_item,
    render_short,
)

__all__ = ["FakeMonica", "Fault", "LogEntry"]

MAX_LIMIT = 100
SORTS = ("created_at", "updated_at", "completed_at", "called_at", "favorited_at")
LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Login | Monica</title></head>"
    "<body><form action='/login'></form></body></html>"
)
PER_CONTACT = (
    "calls",
    "activities",
    "gifts",
    "debts",
    "tasks",
    "reminders",
    "pets",
    "conversations",
    "documents",
    "photos",
    "addresses",
    "notes",
)


@dataclass
class Fault:
    """A scripted misbehaviour of one endpoint template (e.g. `/api/contacts`).

    kind: `status` (JSON error with `status`), `html` (`status` with an HTML body),
    `login_page` (200 HTML), `malformed` (200, truncated JSON), `body` (200 with `body`
    verbatim: wrong types, missing keys, NULs...), `huge` (200 with `size` bytes), `slow`
    (sleep `delay` then answer normally), `reset` (the connection breaks mid-body).
    `page` / `contact_id` narrow it; `times` None means forever. `retry_after` adds that
    `Retry-After` header to a `status` answer (a scripted 429).
    """

    endpoint: str
    kind: str = "status"
    status: int = 500
    times: int | None = 1
    page: int | None = None
    contact_id: int | None = None
    body: Any = None
    delay: float = 0.0
    size: int = 0
    retry_after: int | None = None


@dataclass(frozen=True)
class LogEntry:
    at: float
    method: str
    path: str
    query: str
    endpoint: str
    status: int
    user_id: int | None


@dataclass(frozen=True, slots=True)
class _Query:
    """What a list endpoint's rows depend on, once the request passed its checks."""

    user: dict[str, Any]
    contact: Contact | None
    limit: int
    page: int
    sort: str | None
    base: str


# A page's rendered rows and the total behind them, or an error response.
Listed = tuple[list[Any], int] | Response
Lister = Callable[[Request, _Query], Listed]


def _slice(rows: list[Any], q: _Query) -> tuple[list[Any], int]:
    """A plain LIMIT/OFFSET page of already rendered rows (no ties to drop)."""
    return rows[(q.page - 1) * q.limit : q.page * q.limit], len(rows)


@dataclass
class _Window:
    opened: float
    count: int = 0


@dataclass
class FakeMonica:
    """Control object + ASGI app. Thread-safe enough for a test thread reading counters."""

    world: World
    rate_limit: int = 0
    rate_window: float = 60.0
    tie_drop: set[str] = field(default_factory=lambda: {"contacts"})
    throttle_files: bool = False
    poison_ids: set[int] = field(default_factory=set)
    # Seconds every authenticated answer waits first, as a Monica across a network (and PHP
    # building the page) would; 0 answers at once, as loopback does.
    latency: float = 0.0
    clock: Callable[[], float] = time.monotonic
    on_request: Callable[[FakeMonica, LogEntry], None] | None = None
    # Called when a request arrives, before faults (a slow fault sleeps after it).
    on_arrival: Callable[[FakeMonica, str, str], None] | None = None
    faults: list[Fault] = field(default_factory=list)
    counts: Counter[tuple[str, int]] = field(default_factory=Counter)
    log: list[LogEntry] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    _windows: dict[int, _Window] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.app = Starlette(routes=self._routes())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    # --- control API ---------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def revoke(self, token: str) -> None:
        self.revoked.add(token)

    def reset_stats(self) -> None:
        with self._lock:
            self.counts.clear()
            self.log.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "counts": {f"{e} {s}": n for (e, s), n in sorted(self.counts.items())},
                "total": sum(self.counts.values()),
                "too_many": sum(n for (_, s), n in self.counts.items() if s == 429),
            }

    def count(self, endpoint: str, status: int | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (e, s), n in self.counts.items()
                if e == endpoint and (status is None or s == status)
            )

    def listed_contacts(self, account_id: int = 1) -> list[Contact]:
        """Contacts the listing filters admit (`meta.total` counts these, hidden ones too)."""
        return [
            c
            for c in self.world.contacts.values()
            if c.account_id == account_id
            and not c.deleted
            and not c.is_partial
            and c.is_active
            and c.address_book is None
        ]

    def expected_unlisted(
        self, limit: int = MAX_LIMIT, sort: str | None = None, account_id: int = 1
    ) -> set[int]:
        """The ids a full crawl of the listing at `limit` and `sort` (None: not sent) misses."""
        rows = self.listed_contacts(account_id)
        total_pages = max(1, math.ceil(len(rows) / limit))
        seen: set[int] = set()
        for page in range(1, total_pages + 1):
            seen.update(c.id for c in self._contacts_page(rows, sort, limit, page))
        return {c.id for c in rows} - seen

    # --- plumbing ------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        routes = [
            Route("/api/me", self._me),
            Route("/api/contacts", self._contacts),
            Route("/api/contacts/{id:int}", self._contact),
            Route("/api/contacts/{id:int}/contactfields", self._contact_fields),
            Route("/api/contacts/{id:int}/relationships", self._contact_relationships),
            Route("/api/contacts/{id:int}/{kind}", self._contact_items),
            Route("/api/contactfields", self._not_allowed),
            Route("/api/relationships", self._not_allowed),
            Route("/api/tags", self._reference),
            Route("/api/genders", self._reference),
            Route("/api/contactfieldtypes", self._reference),
            Route("/api/relationshiptypes", self._reference),
            Route("/store/{name}", self._private_file),
            Route("/public/{name}", self._public_file),
            Route("/login", lambda r: HTMLResponse(LOGIN_PAGE)),
            Route("/__fake/stats", self._stats_route, methods=["GET", "DELETE"]),
        ]
        routes += [Route(f"/api/{name}", self._items) for name in ITEM_ENDPOINTS]
        return routes

    def _record(self, request: Request, endpoint: str, status: int, user_id: int | None) -> None:
        entry = LogEntry(
            time.time(),
            request.method,
            request.url.path,
            request.url.query,
            endpoint,
            status,
            user_id,
        )
        with self._lock:
            self.counts[(endpoint, status)] += 1
            self.log.append(entry)
        if self.on_request is not None:
            self.on_request(self, entry)

    def _not_found(
        self, request: Request, endpoint: str, user: dict[str, Any], headers: dict[str, str]
    ) -> Response:
        self._record(request, endpoint, 404, user["id"])
        return _error(404, 31, "The resource has not been found", headers)

    def _base(self, request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def _guard(
        self, request: Request, endpoint: str
    ) -> tuple[dict[str, Any] | None, Response | None, dict[str, str]]:
        """Authenticate, rate-limit and apply faults; returns (user, early response, headers)."""
        if self.on_arrival is not None:
            self.on_arrival(self, request.url.path, request.url.query)
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        user = self.world.users.get(token) if token not in self.revoked else None
        if user is None:
            if "application/json" in request.headers.get("accept", ""):
                response: Response = JSONResponse({"message": "Unauthenticated."}, status_code=401)
            else:
                response = RedirectResponse("/login", status_code=302)
            self._record(request, endpoint, response.status_code, None)
            return None, response, {}
        headers, early = self._throttle(request, endpoint, user["id"])
        if early is not None:
            return None, early, headers
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        fault = self._take_fault(request, endpoint)
        if fault is not None:
            response_or_none = await self._apply(fault, headers)
            if response_or_none is not None:
                self._record(request, endpoint, response_or_none.status_code, user["id"])
                return None, response_or_none, headers
        return user, None, headers

    def _throttle(
        self, request: Request, endpoint: str, user_id: int
    ) -> tuple[dict[str, str], Response | None]:
        """Spend one request of `user_id`'s window: its headers, and a 429 once it is over."""
        headers: dict[str, str] = {}
        if self.rate_limit > 0:
            with self._lock:
                now = self.clock()
                window = self._windows.get(user_id)
                if window is None or now - window.opened >= self.rate_window:
                    window = self._windows[user_id] = _Window(opened=now)
                window.count += 1
                over = window.count > self.rate_limit
                remaining = max(0, self.rate_limit - window.count)
                reset_in = max(0.0, window.opened + self.rate_window - now)
            headers = {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(remaining),
            }
            if over:
                headers.update(
                    {
                        "Retry-After": str(max(1, math.ceil(reset_in))),
                        "X-RateLimit-Reset": str(int(time.time() + reset_in)),
                        "X-RateLimit-Remaining": "0",
                    }
                )
                response = _error(
                    429, 34, "Too many attempts, please slow down the request", headers
                )
                self._record(request, endpoint, 429, user_id)
                return headers, response
        return headers, None

    def _take_fault(self, request: Request, endpoint: str) -> Fault | None:
        page = request.query_params.get("page")
        cid = request.path_params.get("id")
        with self._lock:
            for fault in self.faults:
                if fault.endpoint != endpoint or fault.times == 0:
                    continue
                if fault.page is not None and str(fault.page) != (page or "1"):
                    continue
                if fault.contact_id is not None and fault.contact_id != cid:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    async def _apply(self, fault: Fault, headers: dict[str, str]) -> Response | None:
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            return None
        if fault.kind == "status":
            if fault.retry_after is not None:
                headers = {**headers, "Retry-After": str(fault.retry_after)}
            return _error(fault.status, 31 if fault.status == 404 else 40, "fault", headers)
        if fault.kind == "html":
            return HTMLResponse(
                "<html><body><h1>Bad Gateway</h1></body></html>",
                status_code=fault.status,
                headers=headers,
            )
        if fault.kind == "login_page":
            return HTMLResponse(LOGIN_PAGE, headers=headers)
        if fault.kind == "malformed":
            return Response(
                '{"data": [{"id": 1, "first_na', media_type="application/json", headers=headers
            )
        if fault.kind == "body":
            raw = fault.body if isinstance(fault.body, str) else json.dumps(fault.body)
            return Response(raw, media_type="application/json", headers=headers)
        if fault.kind == "huge":
            return Response(
                b'{"data": "' + b"x" * fault.size + b'"}',
                media_type="application/json",
                headers=headers,
            )
        if fault.kind == "reset":
            return _BrokenResponse()
        msg = f"unknown fault kind {fault.kind}"
        raise ValueError(msg)

    def _respond(
        self,
        request: Request,
        endpoint: str,
        user: dict[str, Any],
        body: Any,
        headers: dict[str, str],
        status: int = 200,
    ) -> Response:
        self._record(request, endpoint, status, user["id"])
        return JSONResponse(body, status_code=status, headers=headers)

    def _paging(
        self, request: Request, sortable: tuple[str, ...]
    ) -> tuple[int, int, str | None] | Response:
        try:
            limit = int(request.query_params.get("limit", "15"))
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            return _error(500, 33, "Wrong or too many parameters", {})
        if limit > MAX_LIMIT:
            return _error(400, 30, "The limit parameter is too big", {})
        limit = max(1, limit)
        sort = request.query_params.get("sort")
        if sort is not None:
            if sort.lstrip("-") not in SORTS:
                return _error(400, 39, "The sorting criteria is invalid", {})
            if sort.lstrip("-") not in sortable:
                return _error(500, 40, "Invalid query", {})
        return limit, page, sort

    # --- list endpoints --------------------------------------------------------------------------

    async def _list(
        self,
        request: Request,
        endpoint: str,
        lister: Lister,
        *,
        sortable: tuple[str, ...] = ("created_at", "updated_at"),
        of_contact: bool = False,
        known: Callable[[Request], bool] | None = None,
    ) -> Response:
        """Every paginated endpoint: guard, (kind and contact checks), paging, rows, envelope.

        `known` refuses an unknown path parameter with a 404 before anything else is read;
        `of_contact` resolves `{id}` to one of the token's contacts (404 otherwise). `lister`
        returns the page's rendered rows and the total, or an error response.
        """
        user, early, headers = await self._guard(request, endpoint)
        if early is not None:
            return early
        assert user is not None
        contact = None
        if known is not None and not known(request):
            return self._not_found(request, endpoint, user, headers)
        if of_contact:
            contact = self._own_contact(user, request.path_params["id"])
            if contact is None:
                return self._not_found(request, endpoint, user, headers)
        paging = self._paging(request, sortable)
        if isinstance(paging, Response):
            self._record(request, endpoint, paging.status_code, user["id"])
            return paging
        limit, page, sort = paging
        base = self._base(request)
        query = _Query(user, contact, limit, page, sort, base)
        result = lister(request, query)
        if isinstance(result, Response):
            self._record(request, endpoint, result.status_code, user["id"])
            result.headers.update(headers)
            return result
        data, total = result
        return self._respond(
            request,
            endpoint,
            user,
            _envelope(data, total, limit, page, base + request.url.path),
            headers,
        )

    # --- contacts --------------------------------------------------------------------------------

    def _contacts_page(
        self, rows: list[Contact], sort: str | None, limit: int, page: int
    ) -> list[Contact]:
        column = (sort or "created_at").lstrip("-")
        descending = (sort or "").startswith("-")
        hidden = self.world.hidden_ids
        rows = [c for c in rows if c.id not in hidden]
        return _tie_page(
            rows,
            lambda c: getattr(c, column),
            descending,
            limit,
            page,
            salt=(self.world.seed, "contacts", sort or "", limit, page),
            shuffle="contacts" in self.tie_drop,
            tiebreak=lambda c: c.id,
        )

    async def _contacts(self, request: Request) -> Response:
        return await self._list(request, "/api/contacts", self._contacts_rows)

    def _contacts_rows(self, request: Request, q: _Query) -> Listed:
        rows = self.listed_contacts(q.user["account_id"])
        items = self._contacts_page(rows, q.sort, q.limit, q.page)
        if any(c.id in self.poison_ids for c in items):
            return _error(500, 40, "Invalid query", {})
        with_fields = request.query_params.get("with") == "contactfields"
        related = gather_related(self.world, (c.id for c in items))
        data = [
            render_contact(self.world, c, q.base, with_fields=with_fields, related=related)
            for c in items
        ]
        return data, len(rows)

    def _own_contact(self, user: dict[str, Any], contact_id: int) -> Contact | None:
        contact = self.world.contacts.get(contact_id)
        if contact is None or contact.deleted or contact.account_id != user["account_id"]:
            return None
        return contact

    async def _contact(self, request: Request) -> Response:
        endpoint = "/api/contacts/{id}"
        user, early, headers = await self._guard(request, endpoint)
        if early is not None:
            return early
        assert user is not None
        contact = self._own_contact(user, request.path_params["id"])
        if contact is None:
            return self._not_found(request, endpoint, user, headers)
        with_fields = request.query_params.get("with") == "contactfields"
        data = render_contact(self.world, contact, self._base(request), with_fields=with_fields)
        return self._respond(request, endpoint, user, {"data": data}, headers)

    async def _contact_fields(self, request: Request) -> Response:
        return await self._list(
            request,
            "/api/contacts/{id}/contactfields",
            self._contact_fields_rows,
            sortable=(),
            of_contact=True,
        )

    def _contact_fields_rows(self, request: Request, q: _Query) -> Listed:
        assert q.contact is not None
        full = render_contact(self.world, q.contact, q.base, with_fields=True)
        return _slice(full.get("contactFields", []), q)

    async def _contact_relationships(self, request: Request) -> Response:
        endpoint = "/api/contacts/{id}/relationships"
        user, early, headers = await self._guard(request, endpoint)
        if early is not None:
            return early
        assert user is not None
        contact = self._own_contact(user, request.path_params["id"])
        data: list[dict[str, Any]] = []
        if contact is not None:  # API §6: an unknown id answers an empty list, not 404
            base = self._base(request)
            for rel in self.world.relationships:
                if rel["contact_is"] != contact.id or rel["of_contact"] not in self.world.contacts:
                    continue
                rtype = next(t for t in self.world.relationship_types if t["id"] == rel["type_id"])
                data.append(
                    {
                        "object": "relationship",
                        "contact_is": render_short(self.world, contact, base),
                        "relationship_type": {"object": "relationshiptype", **rtype},
                        "of_contact": render_short(
                            self.world, self.world.contacts[rel["of_contact"]], base
                        ),
                    }
                )
        return self._respond(request, endpoint, user, {"data": data}, headers)

    async def _contact_items(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        return await self._list(
            request,
            f"/api/contacts/{{id}}/{kind}",
            self._contact_items_rows,
            of_contact=True,
            known=lambda r: r.path_params["kind"] in PER_CONTACT,
        )

    def _contact_items_rows(self, request: Request, q: _Query) -> Listed:
        kind = request.path_params["kind"]
        contact = q.contact
        assert contact is not None
        if kind == "addresses":
            full = render_contact(self.world, contact, q.base, with_fields=False)
            return _slice(full.get("addresses", []), q)
        if kind == "activities":
            rows = [
                i for i in self.world.items.get(kind, []) if contact.id in i.get("attendee_ids", [])
            ]
        else:
            rows = [i for i in self.world.items.get(kind, []) if i.get("contact_id") == contact.id]
        items = _tie_page(
            rows,
            lambda i: i.get("created_at", ""),
            False,
            q.limit,
            q.page,
            salt=(),
            shuffle=False,
            tiebreak=lambda i: i["id"],
        )
        return [render_item(self.world, kind, i, q.base) for i in items], len(rows)

    # --- account-wide lists --------------------------------------------------------------------

    async def _items(self, request: Request) -> Response:
        name = request.url.path.rsplit("/", 1)[1]
        sortable = {
            "calls": ("created_at", "updated_at", "called_at"),
            "tasks": ("created_at", "updated_at", "completed_at"),
        }.get(name, ("created_at", "updated_at"))
        return await self._list(request, f"/api/{name}", self._items_rows, sortable=sortable)

    def expected_unlisted_items(
        self, name: str, limit: int = MAX_LIMIT, account_id: int = 1
    ) -> set[int]:
        """The item ids a full crawl of the account-wide list `name` at `limit` misses."""
        rows = self._item_rows(name, account_id)
        seen: set[int] = set()
        for page in range(1, max(1, math.ceil(len(rows) / limit)) + 1):
            seen.update(i["id"] for i in self._items_page(name, rows, None, limit, page))
        return {i["id"] for i in rows} - seen

    def _item_rows(self, name: str, account_id: int) -> list[dict[str, Any]]:
        if name == "addresses":
            return [
                dict(a, contact_id=c.id, account_id=c.account_id, created_at=c.created_at)
                for c in self.world.contacts.values()
                if c.account_id == account_id and not c.deleted
                for a in c.addresses
            ]
        return [i for i in self.world.items.get(name, []) if i.get("account_id") == account_id]

    def _items_page(
        self, name: str, rows: list[dict[str, Any]], sort: str | None, limit: int, page: int
    ) -> list[dict[str, Any]]:
        # API §3: built-in orders run before `sort` (notes created_at desc, calls called_at desc).
        column, descending = {"notes": ("created_at", True), "calls": ("called_at", True)}.get(
            name, ("created_at", False)
        )
        if name not in ("notes", "calls") and sort:
            column, descending = sort.lstrip("-"), sort.startswith("-")
        return _tie_page(
            rows,
            lambda i: i.get(column) or "",
            descending,
            limit,
            page,
            salt=(self.world.seed, name, sort or "", limit, page),
            shuffle=name in self.tie_drop,
            tiebreak=lambda i: i["id"],
        )

    def _items_rows(self, request: Request, q: _Query) -> Listed:
        name = request.url.path.rsplit("/", 1)[1]
        rows = self._item_rows(name, q.user["account_id"])
        items = self._items_page(name, rows, q.sort, q.limit, q.page)
        if name == "addresses":
            return [_render_flat_address(self.world, a, q.base) for a in items], len(rows)
        return [render_item(self.world, name, i, q.base) for i in items], len(rows)

    async def _reference(self, request: Request) -> Response:
        name = request.url.path.rsplit("/", 1)[1]
        return await self._list(request, f"/api/{name}", self._reference_rows)

    def _reference_rows(self, request: Request, q: _Query) -> Listed:
        name = request.url.path.rsplit("/", 1)[1]
        world = self.world
        account = {"id": q.user["account_id"]}
        if name == "tags":
            rows = [
                {"object": "tag", "name_slug": t["name"].lower(), "account": account, **t}
                for t in sorted(world.tags, key=lambda t: t["name"])
            ]
        elif name == "genders":
            rows = [{"object": "gender", "account": account, **g} for g in world.genders]
        elif name == "contactfieldtypes":
            rows = [
                {"object": "contactfieldtype", "uuid": None, "account": account, **t}
                for t in world.contact_field_types
            ]
        else:
            rows = [
                {
                    "object": "relationshiptype",
                    "account": account,
                    **{k: v for k, v in t.items() if k != "group"},
                }
                for t in world.relationship_types
            ]
        return _slice(rows, q)

    async def _not_allowed(self, request: Request) -> Response:
        self._record(request, request.url.path, 405, None)
        return JSONResponse(
            {"message": "The GET method is not supported for this route."}, status_code=405
        )

    async def _me(self, request: Request) -> Response:
        endpoint = "/api/me"
        user, early, headers = await self._guard(request, endpoint)
        if early is not None:
            return early
        assert user is not None
        data = {
            "id": user["id"],
            "uuid": None,
            "object": "user",
            "first_name": user["first_name"],
            "last_name": user["last_name"],
            "name": f"{user['first_name']} {user['last_name']}",
            "email": user["email"],
            "me_contact": None,
            "timezone": "UTC",
            "currency": None,
            "locale": "en",
            "is_policy_compliant": True,
            "account": {"id": user["account_id"]},
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2020-01-01T00:00:00Z",
        }
        return self._respond(request, endpoint, user, {"data": data}, headers)

    # --- files (API §11.4) -----------------------------------------------------------------------

    async def _file_guard(self, request: Request, endpoint: str) -> Response | None:
        """What a file route answers before its file: a 429 of the token's user when files are
        throttled, or a scripted fault. None to serve the route as usual."""
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        user = self.world.users.get(token) if token not in self.revoked else None
        user_id = None if user is None else user["id"]
        if self.throttle_files and user_id is not None:
            _headers, early = self._throttle(request, endpoint, user_id)
            if early is not None:
                return early
        fault = self._take_fault(request, endpoint)
        if fault is None:
            return None
        response = await self._apply(fault, {})
        if response is not None:
            self._record(request, endpoint, response.status_code, user_id)
        return response

    async def _private_file(self, request: Request) -> Response:
        early = await self._file_guard(request, "/store/{file}")
        if early is not None:
            return early
        # Session auth only: a Bearer request never gets the bytes.
        self._record(
            request,
            "/store/{file}",
            401 if "application/json" in request.headers.get("accept", "") else 302,
            None,
        )
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"message": "Unauthenticated."}, status_code=401)
        return RedirectResponse("/login", status_code=302)

    async def _public_file(self, request: Request) -> Response:
        early = await self._file_guard(request, "/public/{file}")
        if early is not None:
            return early
        spec = self.world.files.get(request.path_params["name"])
        if spec is None or not spec.get("public"):
            self._record(request, "/public/{file}", 404, None)
            return Response("not found", status_code=404)
        self._record(request, "/public/{file}", 200, None)
        return Response(base64.b64decode(spec["data"]), media_type=spec["mime"])

    async def _stats_route(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.reset_stats()
        return JSONResponse(self.stats())


class _BrokenResponse(Response):
    """Announces a long body, sends a little, then ends: the client sees a broken connection."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"100000")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"data": [', "more_body": False})


def _error(status: int, code: int, message: str, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "error_code": code}}, status_code=status, headers=headers
    )


def _envelope(data: list[Any], total: int, limit: int, page: int, path: str) -> dict[str, Any]:
    last = max(1, math.ceil(total / limit))
    start = (page - 1) * limit
    return {
        "data": data,
        "links": {
            "first": f"{path}?page=1",
            "last": f"{path}?page={last}",
            "prev": f"{path}?page={page - 1}" if page > 1 else None,
            "next": f"{path}?page={page + 1}" if page < last else None,
        },
        "meta": {
            "current_page": page,
            "from": start + 1 if data else None,
            "last_page": last,
            "links": [{"url": None, "label": "&laquo; Previous", "active": False}],
            "path": path,
            "per_page": limit,
            "to": start + len(data) if data else None,
            "total": total,
        },
    }


def _tie_page(
    rows: list[Any],
    key: Callable[[Any], Any],
    descending: bool,
    limit: int,
    page: int,
    *,
    salt: tuple[Any, ...],
    shuffle: bool,
    tiebreak: Callable[[Any], Any],
) -> list[Any]:
    """LIMIT/OFFSET over a non-unique ORDER BY (API §11.1).

    Each tie group is ordered by a permutation seeded by (seed, endpoint, sort, limit, page), so
    a group straddling a page boundary shows some members twice and others never, exactly like
    MySQL choosing a different order for each OFFSET. `meta.total` is unaffected.

    Only the groups overlapping the page are shuffled: a shuffle keeps every group in its
    place, so the others cannot change what the page shows. Shuffling all of them cost a
    10,000-contact listing ~20 ms of the fake's CPU per page, which competed with the importer
    it was serving on a benchmark box.
    """
    ordered = sorted(rows, key=lambda r: (key(r), tiebreak(r)), reverse=descending)
    start = (page - 1) * limit
    if not shuffle or start >= len(ordered):
        return ordered[start : start + limit]
    low, high = _tie_span(ordered, key, start, min(start + limit, len(ordered)))
    window: list[Any] = []
    for _, members in itertools.groupby(ordered[low:high], key):
        group = list(members)
        if len(group) > 1:
            digest = hashlib.sha256(repr((*salt, key(group[0]))).encode()).digest()
            random.Random(digest).shuffle(group)
        window.extend(group)
    return window[start - low : start - low + limit]


def _tie_span(
    ordered: list[Any], key: Callable[[Any], Any], start: int, end: int
) -> tuple[int, int]:
    """[start, end) widened to whole tie groups of `ordered`."""
    first, last = key(ordered[start]), key(ordered[end - 1])
    while start > 0 and key(ordered[start - 1]) == first:
        start -= 1
    while end < len(ordered) and key(ordered[end]) == last:
        end += 1
    return start, end


def _render_flat_address(world: World, a: dict[str, Any], base: str) -> dict[str, Any]:
    """An address of the account-wide list: no uuid or url, its contact as a ContactShort."""
    contact = world.contacts[a["contact_id"]]
    row = render_address(contact, a, base)
    del row["uuid"], row["url"]
    row["contact"] = render_short(world, contact, base)
    return row
