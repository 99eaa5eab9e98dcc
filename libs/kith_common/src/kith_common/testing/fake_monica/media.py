"""Media additions to the fake Monica (API §10–§12): photo and document seeding helpers, and a
second host for document links (a CDN or S3 bucket in real deployments).

The fake's own routes already serve `/api/photos`, `/api/documents`, `/public/{file}` and
`/store/{file}`; this module adds what the photos service's tests need beyond them:

- `add_photo` / `add_document`: items in the exact §10 shapes, with a real PNG `dataUrl` (or
  an awkward one: null, corrupt base64, bytes that are no image, an oversize image);
- `FileHost`: an ASGI app serving scripted files (200 bytes, 401, a login page, 404, a 429 with
  `Retry-After` for the first requests, a slow answer) that records whether each request
  carried an `Authorization` header, so a test can prove the Monica token never reaches a
  foreign host, and when each came and how many were in flight at once, so a test can see the
  host's Retry-After honoured and its concurrency bounded. Run it with
  `FakeMonicaServer(FileHost())`.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kith_common.testing.fake_monica.generator import png_bytes
from kith_common.testing.fake_monica.world import World

__all__ = ["FileHost", "HostedFile", "add_document", "add_photo", "data_url", "png_data_url"]


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def png_data_url(rgb: tuple[int, int, int], size: int = 4) -> str:
    """A real, decodable PNG as Monica inlines it."""
    return data_url(png_bytes(rgb, size))


def add_photo(
    world: World,
    *,
    contact_id: int | None,
    data: str | None,
    account_id: int = 1,
    name: str = "photo.png",
    created_at: str = "2023-07-01T10:00:00Z",
) -> dict[str, Any]:
    """A photo item; `contact_id` None is a photo linked to no contact (a gift photo)."""
    return world.add_item(
        "photos",
        original_filename=name,
        new_filename=f"photos/{name}",
        filesize=len(data or ""),
        mime_type="image/png",
        dataUrl=data,
        link=None,
        contact_id=contact_id,
        account_id=account_id,
        created_at=created_at,
    )


def add_document(
    world: World,
    *,
    contact_id: int | None,
    name: str,
    content: bytes = b"%PDF-1.4 fake",
    mime: str = "application/pdf",
    public: bool = True,
    link: str | None = None,
    relative: bool = False,
    account_id: int = 1,
    created_at: str = "2023-07-01T10:00:00Z",
) -> dict[str, Any]:
    """A document item. Without `link` it is served by the fake itself (`/public/<name>` when
    public, the session-only `/store/<name>` otherwise; `relative`: the link is that path alone,
    without the fake's origin); with `link` it points elsewhere."""
    item: dict[str, Any] = {
        "original_filename": name,
        "new_filename": f"documents/{name}",
        "filesize": len(content),
        "type": None,
        "mime_type": mime,
        "number_of_downloads": 0,
        "contact_id": contact_id,
        "account_id": account_id,
        "created_at": created_at,
    }
    if link is None:
        world.files[name] = {
            "data": base64.b64encode(content).decode(),
            "mime": mime,
            "public": public,
            "relative": relative,
        }
        item["file"] = name
    else:
        item["link"] = link
    return world.add_item("documents", **item)


@dataclass
class HostedFile:
    """What `FileHost` answers for one name: `status` 200 with `content`, or a failure.

    The first `throttled` requests get a 429 with `Retry-After: retry_after`; every answer
    waits `delay` seconds first.
    """

    content: bytes = b""
    content_type: str = "application/octet-stream"
    status: int = 200
    throttled: int = 0
    retry_after: int = 1
    delay: float = 0.0


@dataclass
class FileHost:
    """A foreign file host; `requests` lists (name, had_authorization) per request, `log`
    (arrival time, name, status), and `max_in_flight` the most requests it ever held at once."""

    files: dict[str, HostedFile] = field(default_factory=dict)
    requests: list[tuple[str, bool]] = field(default_factory=list)
    log: list[tuple[float, str, int]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[Route("/files/{name}", self._serve)])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def authorized_requests(self) -> int:
        with self._lock:
            return sum(1 for _, auth in self.requests if auth)

    async def _serve(self, request: Request) -> Response:
        name = request.path_params["name"]
        arrived = time.time()
        with self._lock:
            self.requests.append((name, "authorization" in request.headers))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._answer(name)
        finally:
            with self._lock:
                self.in_flight -= 1
        with self._lock:
            self.log.append((arrived, name, response.status_code))
        return response

    async def _answer(self, name: str) -> Response:
        spec = self.files.get(name)
        if spec is None:
            return Response("not found", status_code=404)
        if spec.delay > 0:
            await asyncio.sleep(spec.delay)
        if spec.throttled > 0:
            spec.throttled -= 1
            return Response(
                "slow down", status_code=429, headers={"Retry-After": str(spec.retry_after)}
            )
        if spec.status == 401:
            return JSONResponse({"message": "Unauthenticated."}, status_code=401)
        if spec.content_type == "text/html":
            return HTMLResponse("<html><body><form action='/login'></form></body></html>")
        return Response(spec.content, status_code=spec.status, media_type=spec.content_type)
