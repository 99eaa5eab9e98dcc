"""GET /v1/events: Server-Sent Events of the caller's account, as they happen."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from kith_common.accounts import hash_token
from kith_gateway.deps import Context, Credentials, authenticate, check_role, principal_for
from kith_gateway.streams import open_stream

router = APIRouter(tags=["events"])


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "`event: <type>`, `id: <envelope id>`, `data: <envelope JSON>`. "
            "The token is checked again every 30 s; once revoked the stream sends "
            "`event: revoked` and ends.",
        },
        429: {"description": "This token already holds the most open streams allowed."},
    },
)
async def events(request: Request, ctx: Context, credentials: Credentials) -> StreamingResponse:
    # Authenticated with a short session of its own: a stream must not hold a connection.
    async with ctx.sessions() as session:
        principal = check_role(await authenticate(session, credentials), "viewer")
    token_hash = hash_token(credentials.credentials if credentials else "")

    async def still_valid() -> bool:
        async with ctx.sessions() as session:
            return await principal_for(session, token_hash) is not None

    return open_stream(
        request,
        account_id=principal.account_id,
        token_key=token_hash,
        still_valid=still_valid,
        revalidate_seconds=ctx.settings.stream_revalidate_seconds,
        per_token=ctx.settings.streams_per_token,
    )
