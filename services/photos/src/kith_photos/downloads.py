"""Document downloads (importer.md §9, API §11.4): through the SSRF guard, the token only for
Monica's own origin, `Accept: */*`, redirects followed by hand (each hop checked), streamed and
capped. Every outcome is a value: a document that cannot be fetched is a per-item result, and
the phase goes on.

Each request takes its turn where it goes (importer.md §5):
- on Monica's origin, a slot of the shared rate limiter, through the documents phase's
  `MonicaClient` (`acquire`), so it is counted with the phase's other requests and a 429 blocks
  the bucket for every phase and replica (`pause`);
- on any other host, that host's `HostGate` (bounded concurrency, its own Retry-After), never
  Monica's bucket.
Transient failures are retried by the one retry layer with the client's `RetryPolicy`, so a
download waits as patiently, and as briefly, as an API call.

A relative `link` is resolved against the Monica base URL, then guarded like any other.
Downloads from Monica's origin appear in `kith_monica_requests_total` as endpoint
`{document link}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin

import httpx

from kith_common.monica.client import MonicaClient, origin_of
from kith_common.monica.errors import MonicaUnavailable
from kith_common.monica.metrics import REQUESTS
from kith_common.monica.retry import Pause, Retry, transient_status, with_retries
from kith_common.ssrf import AllowedHosts, GuardedTransport, HostRefused
from kith_photos.hosts import HostGates

__all__ = ["LOGIN_PAGE_MESSAGE", "Downloaded", "Downloader", "Failed", "resolve_link"]

LOGIN_PAGE_MESSAGE: Final = (
    "Monica serves this file only to logged-in browser sessions (private storage); "
    "download it from Monica"
)
MAX_REDIRECTS: Final = 3
DOWNLOAD_ENDPOINT: Final = "{document link}"  # the endpoint label of downloads from Monica
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Downloaded:
    data: bytes
    content_type: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class Failed:
    """`status` is the entry's outcome (`failed` or `not_found`), `reason` its code."""

    status: str
    reason: str
    message: str | None = None


class _TooLarge(Exception):
    pass


def resolve_link(link: object, monica_url: str) -> str | Failed:
    """The absolute URL of a document `link`: as given, or resolved against `monica_url`.

    `/storage/a.pdf` lands on Monica's origin, `storage/a.pdf` under its base path. Anything
    that is then not http(s) is refused, as the guard refuses it.
    """
    if not isinstance(link, str) or not link.strip():
        return Failed("failed", "no_link", "Monica gave no download link for this document")
    url = urljoin(monica_url.rstrip("/") + "/", link.strip())
    if not url.startswith(("http://", "https://")):
        return Failed("failed", "refused_host", "the download link is not an http(s) URL")
    return url


class Downloader:
    """One HTTP client for a phase's downloads; use as an async context manager.

    `requests_by_host` counts every request sent, retries and redirect hops included, by
    origin; those to Monica's origin are also in `monica.stats.requests`.
    """

    def __init__(
        self,
        *,
        monica: MonicaClient,
        monica_url: str,
        api_key: str,
        hosts: HostGates,
        allow_private: bool,
        max_bytes: int,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        allowed_hosts: AllowedHosts = (),
    ) -> None:
        self._monica = monica
        self._monica_url = monica_url
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._hosts = hosts
        self._max_bytes = max_bytes
        self._sleep = sleep
        self.requests_by_host: Counter[str] = Counter()
        self._http = httpx.AsyncClient(
            transport=transport
            or GuardedTransport(allow_private=allow_private, allowed=allowed_hosts),
            timeout=httpx.Timeout(60.0, connect=10.0),
            follow_redirects=False,
            headers={"Accept": "*/*", "User-Agent": "Kith-importer/1"},
            trust_env=False,
        )

    async def __aenter__(self) -> Downloader:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.aclose()

    async def fetch(self, link: object, *, document_type: str | None) -> Downloaded | Failed:
        """Download `link`; `document_type` (Monica's mime type) tells a login page apart."""
        url = resolve_link(link, self._monica_url)
        if isinstance(url, Failed):
            return url
        try:
            return await with_retries(
                lambda: self._fetch_once(url, document_type),
                self._monica.retry,
                pause=self._monica.pause,
                sleep=self._sleep,
            )
        except HostRefused as err:
            return Failed("failed", "refused_host", err.detail or str(err))
        except _TooLarge:
            limit = max(1, self._max_bytes // (1024 * 1024))
            return Failed("failed", "too_large", f"the document is larger than {limit} MiB")
        except MonicaUnavailable as err:
            return Failed("failed", "download_error", err.message)

    @contextlib.asynccontextmanager
    async def _turn(self, origin: str) -> AsyncIterator[Pause]:
        """Wait for this request's turn at `origin`; yields what a 429 from there pauses."""
        self.requests_by_host[origin] += 1
        if origin == self._monica.origin:
            await self._monica.acquire()
            yield self._monica.pause
            return
        gate = self._hosts[origin]
        async with gate.turn():
            yield gate.pause

    async def _fetch_once(self, link: str, document_type: str | None) -> Downloaded | Failed:
        url = httpx.URL(link)
        for _hop in range(MAX_REDIRECTS + 1):
            origin = origin_of(str(url))
            headers = self._auth if origin == self._monica.origin else None
            async with self._turn(origin) as pause:
                response = await self._send(url, headers)
                if headers is not None:  # Monica's origin: one of Monica's requests
                    REQUESTS.labels(DOWNLOAD_ENDPOINT, str(response.status_code)).inc()
                try:
                    status = response.status_code
                    if status in _REDIRECTS:
                        target = _redirect(url, response)
                        if isinstance(target, Failed):
                            return target
                        url = target
                        continue
                    if transient_status(status):
                        raise _retry(status, response, pause, self._monica)
                    data = await self._body(response, status, document_type)
                finally:
                    await response.aclose()
            return data
        return Failed("failed", "download_error", f"more than {MAX_REDIRECTS} redirects")

    async def _send(self, url: httpx.URL, headers: dict[str, str] | None) -> httpx.Response:
        request = self._http.build_request("GET", url, headers=headers)
        try:
            return await self._http.send(request, stream=True)
        except httpx.TimeoutException:
            raise Retry(MonicaUnavailable("the download timed out")) from None
        except httpx.TransportError as err:
            message = f"the download broke off ({type(err).__name__})"
            raise Retry(MonicaUnavailable(message)) from None

    async def _body(
        self, response: httpx.Response, status: int, document_type: str | None
    ) -> Downloaded | Failed:
        """The outcome of a final (non-redirect, non-transient) answer."""
        if status == 401:
            return Failed("failed", "unauthorized", LOGIN_PAGE_MESSAGE)
        if status == 404:
            return Failed("not_found", "upstream_missing", "the file is gone from Monica")
        if status >= 400:
            return Failed("failed", "download_error", f"the file host answered {status}")
        content_type = response.headers.get("content-type", "application/octet-stream")
        if _is_html(content_type) and not _is_html(document_type or ""):
            return Failed("failed", "login_page", LOGIN_PAGE_MESSAGE)
        data = await self._read(response)
        return Downloaded(data, content_type.split(";")[0].strip(), _sha256(data))

    async def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    raise _TooLarge
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise Retry(MonicaUnavailable("the download timed out mid-file")) from None
        except httpx.TransportError as err:
            message = f"the download broke off ({type(err).__name__})"
            raise Retry(MonicaUnavailable(message)) from None
        return b"".join(chunks)


def _redirect(url: httpx.URL, response: httpx.Response) -> httpx.URL | Failed:
    """Where a redirect leads, or why it is not followed (a login page, a non-http scheme)."""
    location = response.headers.get("location")
    if not location:
        return Failed("failed", "download_error", f"a {response.status_code} without a target")
    target = url.join(location)
    if target.path.rstrip("/").endswith("/login"):
        return Failed("failed", "login_page", LOGIN_PAGE_MESSAGE)
    if target.scheme not in ("http", "https"):
        return Failed("failed", "refused_host", "redirected off http(s)")
    return target


def _retry(status: int, response: httpx.Response, pause: Pause, monica: MonicaClient) -> Retry:
    """A transient answer: retried; a 429 waits its Retry-After where it came from."""
    error = MonicaUnavailable(f"the file host answered {status}", status=status)
    if status != 429:
        return Retry(error)
    wait = monica.retry.retry_after(response.headers.get("Retry-After"))
    return Retry(error, wait=wait, pause=pause)


def _is_html(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
