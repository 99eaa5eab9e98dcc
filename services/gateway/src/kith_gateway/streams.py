"""One live event stream (`GET /v1/events`, `/console/events`): fan-out, keepalive, re-check.

A stream outlives the request that opened it, so the token is checked again every
`KITH_STREAM_REVALIDATE_SECONDS` (30 s): a revoked or expired token, a deleted or disabled
user, or a console session signed out elsewhere ends the stream with `event: revoked`. Each
token may hold `KITH_STREAMS_PER_TOKEN` streams at once in one gateway process (the hub is per
process); more are refused with 429 before anything is streamed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from fastapi import Request
from fastapi.responses import StreamingResponse

from kith_gateway.events_hub import EventHub
from kith_gateway.problems import TooManyRequests

__all__ = ["KEEPALIVE_SECONDS", "open_stream"]

KEEPALIVE_SECONDS: Final = 15.0
_HEADERS: Final = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

StillValid = Callable[[], Awaitable[bool]]


def open_stream(
    request: Request,
    *,
    account_id: int,
    token_key: bytes,
    still_valid: StillValid,
    revalidate_seconds: float,
    per_token: int,
) -> StreamingResponse:
    """The streaming response of one listener, or TooManyRequests beyond the token's cap."""
    hub: EventHub = request.app.state.hub
    if not hub.claim(token_key, per_token):
        msg = f"at most {per_token} event streams per token are open at once; close one first"
        raise TooManyRequests(msg, retry_after=int(KEEPALIVE_SECONDS), code="too-many-streams")
    return StreamingResponse(
        _events(request, hub, account_id, token_key, still_valid, revalidate_seconds),
        media_type="text/event-stream",
        headers=_HEADERS,
    )


async def _events(
    request: Request,
    hub: EventHub,
    account_id: int,
    token_key: bytes,
    still_valid: StillValid,
    revalidate_seconds: float,
) -> AsyncIterator[str]:
    queue = await hub.listen(account_id)
    next_check = time.monotonic() + revalidate_seconds
    try:
        yield ": connected\n\n"
        while True:
            now = time.monotonic()
            if now >= next_check:
                if not await still_valid():
                    yield "event: revoked\ndata: {}\n\n"
                    return
                next_check = now + revalidate_seconds
            wait = min(KEEPALIVE_SECONDS, max(0.0, next_check - now))
            try:
                event = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                if time.monotonic() < next_check:
                    yield ": keepalive\n\n"
                continue
            yield f"id: {event.id}\nevent: {event.type}\ndata: {event.body}\n\n"
    finally:
        hub.leave(account_id, queue)
        hub.release(token_key)
