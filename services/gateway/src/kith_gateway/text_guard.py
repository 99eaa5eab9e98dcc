"""Text PostgreSQL cannot store is refused at the edge: 422 naming the field, never a 500.

A `text` value cannot hold NUL (U+0000), and a lone UTF-16 surrogate (a JSON `"\\ud800"`
without its pair) cannot be encoded as UTF-8 at all; either one reaching a query used to
crash the request. This middleware looks once, for every route, at what a client can put
text in: the path, every query parameter (name and value), and the body, a form's pairs or
JSON's keys and string values at any depth (read as JSON whatever its content type, since
`POST /v1/imports` parses its own body). A multipart upload is left to the route that reads
it (`bad_text` is the same check for it to call).

Bodies are buffered to be read twice; `GatewayMiddleware`, outside this one, has already
capped their size.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kith_gateway.problems import problem

_BAD = re.compile("[\x00\ud800-\udfff]")
MESSAGE = "must not contain NUL characters or unpaired surrogates"
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


def _walk(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*path, str(key)), str(key)
            yield from _walk(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, str(index)))


def bad_text(value: Any, prefix: str = "") -> str | None:
    """The dotted name of the first string in `value` PostgreSQL could not store, or None."""
    for path, text in _walk(value, (prefix,) if prefix else ()):
        if _BAD.search(text):
            return _BAD.sub("?", ".".join(path)) or "body"
    return None


def _pairs_field(raw: str) -> str | None:
    """The first name=value pair (query string or form) holding bad text: its name."""
    for name, value in parse_qsl(raw, keep_blank_values=True):
        if _BAD.search(name) or _BAD.search(value):
            return _BAD.sub("?", name) or "query"
    return None


def _body_field(content_type: bytes, body: bytes) -> str | None:
    if not body:
        return None
    kind = content_type.split(b";")[0].strip().lower()
    if kind == b"application/x-www-form-urlencoded":
        return _pairs_field(body.decode("latin-1"))
    # Any other body is read as JSON when it is JSON, whatever it is labelled: a route that
    # parses its own body (POST /v1/imports) may not look at the content type.
    try:
        return bad_text(json.loads(body))
    except ValueError:
        return None  # not JSON: the route's own validation answers


def _query_field(scope: Scope) -> str | None:
    if _BAD.search(scope.get("path", "")):
        return "path"
    raw = scope.get("query_string", b"").decode("latin-1")
    return _pairs_field(raw) if raw else None


class TextGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = _query_field(scope)
        if field is not None:
            await self._refuse(field, scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"")
        # A read's body is never used, and `GatewayMiddleware` replays a failed read with a
        # receive channel already drained: reading it here again would wait forever.
        if scope.get("method") in _NO_BODY or content_type.lower().startswith(b"multipart/"):
            await self.app(scope, receive, send)
            return
        messages, body = await _read(receive)
        field = _body_field(content_type, body)
        if field is not None:
            await self._refuse(field, scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)

    @staticmethod
    async def _refuse(field: str, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            422,
            "invalid-input",
            "the request is not valid",
            errors=[{"field": field, "message": MESSAGE}],
        )
        await response(scope, receive, send)


async def _read(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
