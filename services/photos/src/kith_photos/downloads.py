"""Document downloads (importer.md §9, API §11.4): through the SSRF guard, the token only for
Monica's own origin, `Accept: */*`, redirects followed by hand (each hop checked), streamed and
capped. Every outcome is a value: a document that cannot be fetched is a per-item result, and
the phase goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import dataclass
from typing import Final

import httpx

from kith_common.monica.client import origin_of
from kith_common.ssrf import AllowedHosts, GuardedTransport, HostRefused

__all__ = ["LOGIN_PAGE_MESSAGE", "Downloaded", "Downloader", "Failed"]

LOGIN_PAGE_MESSAGE: Final = (
    "Monica serves this file only to logged-in browser sessions (private storage); "
    "download it from Monica"
)
MAX_REDIRECTS: Final = 3
RETRIES: Final = 2
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


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


class Downloader:
    """One HTTP client for a phase's downloads; use as an async context manager."""

    def __init__(
        self,
        *,
        monica_root: str,
        api_key: str,
        allow_private: bool,
        max_bytes: int,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: float = 1.0,
        allowed_hosts: AllowedHosts = (),
    ) -> None:
        self._origin = origin_of(monica_root)
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._max_bytes = max_bytes
        self._backoff = backoff
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
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            return Failed("failed", "no_link", "Monica gave no download link for this document")
        last = "the download failed"
        for attempt in range(RETRIES + 1):
            if attempt:
                await asyncio.sleep(random.uniform(0, self._backoff * 2**attempt))
            try:
                return await self._fetch_once(link, document_type)
            except HostRefused as err:
                return Failed("failed", "refused_host", err.detail or str(err))
            except _TooLarge:
                limit = max(1, self._max_bytes // (1024 * 1024))
                return Failed("failed", "too_large", f"the document is larger than {limit} MiB")
            except httpx.TimeoutException:
                last = "the download timed out"
            except httpx.TransportError as err:
                last = f"the download broke off ({type(err).__name__})"
            except _RetryStatus as err:
                last = f"the file host answered {err.status}"
        return Failed("failed", "download_error", last)

    async def _fetch_once(self, link: str, document_type: str | None) -> Downloaded | Failed:
        url = httpx.URL(link)
        for _hop in range(MAX_REDIRECTS + 1):
            headers = self._auth if origin_of(str(url)) == self._origin else None
            request = self._http.build_request("GET", url, headers=headers)
            response = await self._http.send(request, stream=True)
            try:
                status = response.status_code
                if status in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        return Failed("failed", "download_error", f"a {status} without a target")
                    target = url.join(location)
                    if target.path.rstrip("/").endswith("/login"):
                        return Failed("failed", "login_page", LOGIN_PAGE_MESSAGE)
                    if target.scheme not in ("http", "https"):
                        return Failed("failed", "refused_host", "redirected off http(s)")
                    url = target
                    continue
                if status == 401:
                    return Failed("failed", "unauthorized", LOGIN_PAGE_MESSAGE)
                if status == 404:
                    return Failed("not_found", "upstream_missing", "the file is gone from Monica")
                if status in (408, 429) or status >= 500:
                    raise _RetryStatus(status)
                if status >= 400:
                    return Failed("failed", "download_error", f"the file host answered {status}")
                content_type = response.headers.get("content-type", "application/octet-stream")
                if _is_html(content_type) and not _is_html(document_type or ""):
                    return Failed("failed", "login_page", LOGIN_PAGE_MESSAGE)
                data = await self._read(response)
            finally:
                await response.aclose()
            return Downloaded(data, content_type.split(";")[0].strip(), _sha256(data))
        return Failed("failed", "download_error", f"more than {MAX_REDIRECTS} redirects")

    async def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)


class _RetryStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(str(status))
        self.status = status


def _is_html(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
