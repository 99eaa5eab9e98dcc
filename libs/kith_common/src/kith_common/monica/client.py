"""The Monica v4 HTTP client: the only path from Kith to a Monica server (importer.md §5).

- httpx over the SSRF-guarded transport; connect 10 s, read 60 s; bodies streamed and capped.
- Each attempt also has an overall deadline (connect + headers + body, 120 s by default), so a
  server that drips a byte every few seconds cannot hold a worker: the read timeout alone
  restarts with every byte.
- A 429 whose Retry-After exceeds `max_retry_after` (120 s by default) is not waited for: the
  request fails at once with `MonicaRetryLater`, a reason the user can act on.
- Setting the `interrupt` event (by default the limiter's `wake`, which the import's cancel
  sets) stops a request in flight, and any backoff, with `MonicaInterrupted`.
- Every attempt first takes a slot of the shared rate limiter.
- One retry layer (`retry.with_retries`, with this client's `retry` policy): 429, 408, 5xx,
  timeouts and connection errors are retried up to 5 times with full-jitter backoff (1, 2, 4, 8,
  16 s, capped at 60 s); a 429 waits its Retry-After (60 s when absent) and blocks the shared
  bucket. Any other 4xx returns at once. Callers never retry.
- `acquire` and `pause` let a request sent outside this client (a document download on Monica's
  origin) take its slot of the same bucket, be counted in `stats`, and block it on a 429.
- Redirects are followed by hand (at most 3, each hop through the guard) and the token goes
  only to the base URL's origin.
- Page URLs are built from page numbers, never from `links.next` (API §2).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from kith_common.monica.errors import (
    MonicaAuthError,
    MonicaBadResponse,
    MonicaHttpError,
    MonicaNotFound,
    MonicaNotJson,
    MonicaRefused,
    MonicaTooLarge,
    MonicaUnavailable,
)
from kith_common.monica.metrics import RATE_LIMIT_WAIT, REQUESTS, RETRIES
from kith_common.monica.ratelimit import RateLimiter, Sleep
from kith_common.monica.retry import (
    DEFAULT_MAX_RETRY_AFTER,
    Retry,
    RetryPolicy,
    interruptible,
    with_retries,
)
from kith_common.monica.urls import api_root
from kith_common.ssrf import AllowedHosts, GuardedTransport, HostRefused

__all__ = ["ClientStats", "MonicaClient", "Page", "origin_of"]

MAX_LIMIT: Final = 100
MAX_REDIRECTS: Final = 3
DEFAULT_REQUEST_DEADLINE: Final = 120.0
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


def origin_of(url: str) -> str:
    """`scheme://host:port` of a URL (the rate limiter's and the token's scope)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


@dataclass
class ClientStats:
    """What one client spent; phases copy these into their summaries."""

    requests: int = 0
    retries: int = 0
    rate_limit_wait_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a Laravel resource collection, shape-checked."""

    data: list[Any]
    total: int
    last_page: int
    current_page: int


class MonicaClient:
    """Talks to one Monica instance with one key; use as an async context manager."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        limiter: RateLimiter | None = None,
        allow_private: bool = False,
        max_response_bytes: int = 32 * 1024 * 1024,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        interrupt: asyncio.Event | None = None,
        allowed_hosts: AllowedHosts = (),
    ) -> None:
        self.root = api_root(base_url)
        self._origin = origin_of(self.root)
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self.limiter = limiter
        self._max_bytes = max_response_bytes
        self.retry = RetryPolicy(
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_retry_after=max_retry_after,
        )
        self._sleep = sleep
        self._deadline = request_deadline
        self._interrupt = interrupt or (limiter.wake if limiter is not None else asyncio.Event())
        self.stats = ClientStats()
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = httpx.AsyncClient(
            transport=transport
            or GuardedTransport(allow_private=allow_private, allowed=allowed_hosts),
            timeout=timeout,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "Kith-importer/1"},
            trust_env=False,
        )

    async def __aenter__(self) -> MonicaClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- typed calls ---------------------------------------------------------------------------

    async def me(self) -> dict[str, Any]:
        """`GET /api/me`: the user behind the key (the connection check)."""
        body = await self.get_json("/me", endpoint="/me")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            msg = "GET /api/me: the answer has no user object (is this Monica 4.x?)"
            raise MonicaBadResponse(msg)
        return data

    async def page(
        self,
        path: str,
        *,
        page: int,
        limit: int = MAX_LIMIT,
        params: Mapping[str, str] | None = None,
        endpoint: str | None = None,
    ) -> Page:
        """One page of an index endpoint, with its Laravel envelope checked."""
        query = {"limit": str(limit), "page": str(page), **(params or {})}
        body = await self.get_json(path, params=query, endpoint=endpoint or path)
        where = f"GET /api{path} page {page}"
        if not isinstance(body, dict):
            msg = f"{where}: the answer is not a JSON object"
            raise MonicaBadResponse(msg)
        data, meta = body.get("data"), body.get("meta")
        if not isinstance(data, list):
            msg = f"{where}: `data` is missing or not a list"
            raise MonicaBadResponse(msg)
        if not isinstance(meta, dict):
            msg = f"{where}: `meta` is missing or not an object"
            raise MonicaBadResponse(msg)
        numbers = {}
        for name in ("total", "last_page", "current_page"):
            value = meta.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                msg = f"{where}: `meta.{name}` is not a whole number"
                raise MonicaBadResponse(msg)
            numbers[name] = value
        return Page(data=data, **numbers)

    async def contact(self, contact_id: int, *, with_fields: bool = True) -> dict[str, Any] | None:
        """A direct GET of one contact; None on 404 (deleted, or another tenant's id)."""
        params = {"with": "contactfields"} if with_fields else None
        try:
            body = await self.get_json(
                f"/contacts/{contact_id}", params=params, endpoint="/contacts/{id}"
            )
        except MonicaNotFound:
            return None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            msg = f"GET /api/contacts/{contact_id}: the answer has no contact object"
            raise MonicaBadResponse(msg)
        return data

    # --- the one request path --------------------------------------------------------------------

    async def get_json(
        self, path: str, *, params: Mapping[str, str] | None = None, endpoint: str
    ) -> Any:
        """GET `{root}{path}` with the limiter, the retry layer and the size cap; parse JSON."""
        url = self.root + path

        async def attempt() -> Any:
            await self.acquire()
            return await interruptible(
                self._bounded_attempt(url, params, endpoint), self._interrupt
            )

        def retried() -> None:
            self.stats.retries += 1
            RETRIES.labels(endpoint).inc()

        return await with_retries(
            attempt,
            self.retry,
            pause=self.pause,
            sleep=self._sleep,
            on_retry=retried,
            interrupt=self._interrupt,
        )

    @property
    def origin(self) -> str:
        """`scheme://host:port` of Monica: the scope of the token and of the shared bucket."""
        return self._origin

    async def acquire(self) -> None:
        """Take this key's next slot of the shared limiter and count the request in `stats`.

        Every request to Monica's origin goes through here, `get_json`'s and a document
        download's alike (importer.md §5: one bucket per origin and key).
        """
        await self._take_slot()
        self.stats.requests += 1

    async def pause(self, seconds: float) -> None:
        """Monica answered 429: every holder of the bucket waits `seconds` (Retry-After)."""
        await self._wait_retry_after(seconds)

    async def _bounded_attempt(
        self, url: str, params: Mapping[str, str] | None, endpoint: str
    ) -> Any:
        """`_attempt` within the overall deadline (connect + headers + body)."""
        try:
            async with asyncio.timeout(self._deadline):
                return await self._attempt(url, params, endpoint)
        except TimeoutError:
            REQUESTS.labels(endpoint, "timeout").inc()
            where = f"GET {urlsplit(url).path}"
            if params and "page" in params:
                where += f" page {params['page']}"
            msg = f"{where}: Monica did not finish answering within {self._deadline:g} s"
            raise Retry(MonicaUnavailable(msg)) from None

    async def _take_slot(self) -> None:
        if self.limiter is not None:
            self.stats.rate_limit_wait_seconds += await self.limiter.acquire()

    async def _wait_retry_after(self, seconds: float) -> None:
        if self.limiter is not None and self.limiter.enabled:
            await self.limiter.block(seconds)
            return  # the next acquire() waits for blocked_until, and counts the wait
        await self._sleep(seconds)
        self.stats.rate_limit_wait_seconds += seconds
        RATE_LIMIT_WAIT.inc(seconds)

    async def _attempt(self, url: str, params: Mapping[str, str] | None, endpoint: str) -> Any:
        where = f"GET {urlsplit(url).path}"
        if params and "page" in params:
            where += f" page {params['page']}"
        try:
            response = await self._send_following(url, params)
        except HostRefused as err:
            REQUESTS.labels(endpoint, "refused").inc()
            raise MonicaRefused(err.detail or str(err)) from None
        except httpx.TimeoutException:
            REQUESTS.labels(endpoint, "timeout").inc()
            raise Retry(MonicaUnavailable(f"{where}: Monica did not answer in time")) from None
        except httpx.TransportError as err:
            REQUESTS.labels(endpoint, "connection_error").inc()
            reason = str(err) or type(err).__name__
            raise Retry(MonicaUnavailable(f"{where}: cannot connect ({reason})")) from None
        async with _closing(response):
            status = response.status_code
            REQUESTS.labels(endpoint, str(status)).inc()
            if status == 429:
                wait = self.retry.retry_after(response.headers.get("Retry-After"))
                error = MonicaUnavailable(f"{where}: Monica's rate limit was hit (429)", status=429)
                raise Retry(error, wait=wait)
            if status == 408 or status >= 500:
                raise Retry(MonicaUnavailable(f"{where}: Monica answered {status}", status=status))
            if status in _REDIRECTS:
                msg = f"{where}: redirected to a login or web page, not the Monica API"
                raise MonicaNotJson(msg, status=status)
            if status == 401:
                raise MonicaAuthError("Monica rejected the API key (401)", status=401)
            if status == 404:
                raise MonicaNotFound(f"{where}: not found (404)", status=404)
            if status >= 400:
                raise MonicaHttpError(f"{where}: Monica answered {status}", status=status)
            body = await self._read_capped(response, where)
        content_type = response.headers.get("content-type", "").lower()
        if "html" in content_type or body.lstrip()[:1] == b"<":
            msg = f"{where}: got a web page, not the Monica API (check the URL)"
            raise MonicaNotJson(msg, status=status)
        try:
            return json.loads(body)
        except ValueError:
            msg = f"{where}: the answer is not valid JSON"
            raise MonicaNotJson(msg, status=status) from None

    async def _send_following(self, url: str, params: Mapping[str, str] | None) -> httpx.Response:
        request_url = httpx.URL(url, params=dict(params) if params else None)
        for _hop in range(MAX_REDIRECTS + 1):
            same_origin = origin_of(str(request_url)) == self._origin
            request = self._http.build_request(
                "GET", request_url, headers=self._auth if same_origin else None
            )
            response = await self._http.send(request, stream=True)
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            await response.aclose()
            target = request_url.join(location)
            if target.path.rstrip("/").endswith("/login") or target.scheme not in ("http", "https"):
                # A login redirect (Accept header ignored): report it, never follow.
                return httpx.Response(302, headers={"location": str(target)})
            request_url = target
        raise MonicaHttpError(f"GET {urlsplit(url).path}: more than {MAX_REDIRECTS} redirects")

    async def _read_capped(self, response: httpx.Response, where: str) -> bytes:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise MonicaTooLarge(_too_large(where, self._max_bytes))
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    raise MonicaTooLarge(_too_large(where, self._max_bytes))
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise Retry(MonicaUnavailable(f"{where}: Monica stopped answering mid-body")) from None
        except httpx.TransportError:
            raise Retry(MonicaUnavailable(f"{where}: the connection broke mid-body")) from None
        return b"".join(chunks)


def _too_large(where: str, limit: int) -> str:
    return f"{where}: the answer is larger than {limit // (1024 * 1024) or 1} MiB"


class _closing:
    """Close a streamed response whatever happens (async context manager)."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    async def __aenter__(self) -> httpx.Response:
        return self._response

    async def __aexit__(self, *_: object) -> None:
        await self._response.aclose()
