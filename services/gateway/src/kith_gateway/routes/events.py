"""GET /v1/events: Server-Sent Events of the caller's account, as they happen."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from kith_gateway.deps import Context, Credentials, authenticate, check_role
from kith_gateway.events_hub import EventHub

router = APIRouter(tags=["events"])

KEEPALIVE_SECONDS = 15.0


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "`event: <type>`, `id: <envelope id>`, `data: <envelope JSON>`.",
        }
    },
)
async def events(request: Request, ctx: Context, credentials: Credentials) -> StreamingResponse:
    # Authenticated with a short session of its own: a stream must not hold a connection.
    async with ctx.sessions() as session:
        principal = check_role(await authenticate(session, credentials), "viewer")
    hub: EventHub = request.app.state.hub
    queue = await hub.listen(principal.account_id)

    async def stream() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keepalive\n\n"
                    continue
                yield f"id: {event.id}\nevent: {event.type}\ndata: {event.body}\n\n"
        finally:
            hub.leave(principal.account_id, queue)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
