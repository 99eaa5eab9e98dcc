"""Request ids, request-body caps and HTTP latency metrics, as one pure ASGI middleware.

- `X-Request-Id` is honoured (or created), returned on the response, bound to the log
  context and becomes the `correlation_id` of every event the request causes. A header that
  is not a UUID is kept verbatim on the response and mapped to a stable UUID (uuid5) for the
  envelopes, whose `correlation_id` is a UUID.
- Bodies are capped: JSON 1 MiB, multipart (vCard uploads) `KITH_MAX_UPLOAD_MB` (gateway.md).
- A GET or HEAD that fails because PostgreSQL dropped its pooled connection (the read pool
  does not pre-ping, see `kith_gateway.database`) is replayed once before anything was sent:
  a read is safe to repeat, and the pool has been invalidated, so the replay connects afresh.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from typing import Any

import structlog
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kith_common.db.outage import is_disconnect
from kith_common.metrics import HTTP_SECONDS
from kith_gateway.problems import PROBLEM_JSON

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "x-request-id"
JSON_LIMIT_BYTES = 1024 * 1024
_REQUEST_ID_NAMESPACE = uuid.UUID("5d1c8a9e-2b7f-4c1e-9a55-0c3d9e7f1a21")
_MAX_REQUEST_ID_CHARS = 200
_REPLAYABLE = frozenset({"GET", "HEAD"})

correlation_id_var: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar(
    "kith_correlation_id", default=None
)


def correlation_id() -> uuid.UUID:
    """The current request's correlation id (a fresh one outside a request)."""
    return correlation_id_var.get() or uuid.uuid4()


def _correlation_for(header: str) -> uuid.UUID:
    try:
        return uuid.UUID(header)
    except ValueError:
        return uuid.uuid5(_REQUEST_ID_NAMESPACE, header)


class _TooLarge(HTTPException):
    """An HTTPException, so FastAPI's body parsing re-raises it instead of answering 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, *, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes

    def _limit(self, headers: dict[bytes, bytes]) -> int:
        content_type = headers.get(b"content-type", b"").lower()
        if content_type.startswith(b"multipart/"):
            return self.max_upload_bytes
        return JSON_LIMIT_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw_id = headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1").strip()
        request_id = raw_id[:_MAX_REQUEST_ID_CHARS] if raw_id else str(uuid.uuid4())
        cid = _correlation_for(request_id)
        token = correlation_id_var.set(cid)
        limit = self._limit(headers)
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500, "started": False}

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(send, request_id, limit)
            correlation_id_var.reset(token)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                out = list(message.get("headers", []))
                out.append((b"x-request-id", request_id.encode("latin-1", "replace")))
                message = {**message, "headers": out}
            await send(message)

        try:
            with structlog.contextvars.bound_contextvars(
                correlation_id=str(cid), method=scope.get("method")
            ):
                try:
                    await self.app(scope, counting_receive, send_with_id)
                except Exception as err:
                    if not self._replayable(scope, err, started=status_holder["started"]):
                        raise
                    log.warning("read_replayed_after_disconnect", error_type=type(err).__name__)
                    await self.app(scope, counting_receive, send_with_id)
        except _TooLarge:
            if not status_holder["started"]:
                await self._too_large(send, request_id, limit)
                status_holder["status"] = 413
        finally:
            correlation_id_var.reset(token)
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_SECONDS.labels(
                method=scope.get("method", ""), route=template, status=str(status_holder["status"])
            ).observe(time.perf_counter() - started)

    @staticmethod
    def _replayable(scope: Scope, err: Exception, *, started: bool) -> bool:
        """A read that lost its database connection before answering anything."""
        return not started and scope.get("method") in _REPLAYABLE and is_disconnect(err)

    async def _too_large(self, send: Send, request_id: str, limit: int) -> None:
        body = (
            '{"type":"/problems/payload-too-large","title":"Content Too Large","status":413,'
            f'"detail":"the request body exceeds {limit} bytes"}}'
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode("latin-1", "replace")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
