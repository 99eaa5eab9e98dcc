"""The HTTP side of the `kith` client commands: one API client and the live event stream.

The client commands (`kith import`, `kith imports`, `kith duplicates`, `kith reset`) talk to a
running gateway, never to the database: the base URL comes from `--api-url` / `KITH_API_URL`
and the token from `--token` / `KITH_TOKEN` (read here, not via Settings, because a laptop
running the CLI has none of the server's settings). Progress is followed the way the console
follows it: every event on `GET /v1/events` (or a quiet tick, should the stream drop) re-reads
the resource, whose state is the truth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from kith_common.settings import Settings

# Where `kith dev` and `kith serve gateway` listen unless KITH_GATEWAY_PORT says otherwise.
DEFAULT_API_URL = f"http://127.0.0.1:{Settings.model_fields['gateway_port'].default}"
TICK_SECONDS = 2.0


class ApiError(Exception):
    """A non-2xx answer, with the problem's detail and field errors as one readable line."""

    def __init__(self, status: int, body: Any) -> None:
        detail = body.get("detail") if isinstance(body, dict) else None
        errors = body.get("errors") if isinstance(body, dict) else None
        parts = [str(detail or body or f"HTTP {status}")]
        for item in errors or []:
            if isinstance(item, dict):
                parts.append(f"{item.get('field')}: {item.get('message')}")
        super().__init__("; ".join(parts))
        self.status = status


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", default=None, help="gateway URL (default $KITH_API_URL)")
    parser.add_argument("--token", default=None, help="API token (default $KITH_TOKEN)")


def client(args: argparse.Namespace) -> httpx.AsyncClient:
    base = args.api_url or os.environ.get("KITH_API_URL") or DEFAULT_API_URL
    token = args.token or os.environ.get("KITH_TOKEN")
    if not token:
        msg = "an API token is required: --token or KITH_TOKEN"
        raise ApiError(0, msg)
    return httpx.AsyncClient(
        base_url=base.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(30.0, read=60.0),
    )


async def call(http: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
    try:
        response = await http.request(method, path, **kw)
    except httpx.HTTPError as err:
        raise ApiError(0, f"cannot reach {http.base_url}: {err}") from err
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.status_code >= 400:
        raise ApiError(response.status_code, body)
    return body


async def _events(http: httpx.AsyncClient, kick: asyncio.Event, prefix: str) -> None:
    """Set `kick` on every event whose type starts with `prefix`; reconnect if dropped."""
    while True:
        try:
            async with http.stream("GET", "/v1/events", timeout=None) as response:
                async for line in response.aiter_lines():
                    if line.startswith("event:") and line[6:].strip().startswith(prefix):
                        kick.set()
        except httpx.HTTPError:
            pass
        await asyncio.sleep(TICK_SECONDS)


@contextlib.asynccontextmanager
async def following(http: httpx.AsyncClient, prefix: str) -> AsyncIterator[asyncio.Event]:
    """Listen to the event stream while the block runs (started first, so nothing is missed)."""
    kick = asyncio.Event()
    task = asyncio.create_task(_events(http, kick, prefix))
    try:
        yield kick
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def follow(
    kick: asyncio.Event, read: Callable[[], Awaitable[Any]], show: Callable[[Any], bool]
) -> Any:
    """Re-read on every event or tick and `show` it, until `show` says it is final."""
    while True:
        state = await read()
        if show(state):
            return state
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(kick.wait(), TICK_SECONDS)
        kick.clear()


def fail(message: str) -> int:
    print(f"kith: {message}", file=sys.stderr)  # CLI output
    return 1


def refused(err: ApiError) -> int:
    """A request the gateway refused (or could not be sent): the reason, exit 2."""
    print(f"kith: {err}", file=sys.stderr)  # CLI output
    return 2
