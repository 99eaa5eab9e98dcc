"""Publishing from a request: envelopes into the outbox, stamped with the request's id."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.bus import outbox
from kith_common.events.envelope import Envelope, Payload
from kith_common.events.registry import build_envelope
from kith_gateway.middleware import correlation_id


async def publish(
    session: AsyncSession,
    subject: str,
    payload: Payload,
    *,
    account_id: int | None,
    generation: int | None,
    envelope_id: uuid.UUID | None = None,
) -> Envelope[Payload]:
    """Queue one message in the caller's transaction; the relay publishes it after commit."""
    envelope = build_envelope(
        subject,
        payload,
        account_id=account_id,
        generation=generation,
        correlation_id=correlation_id(),
        id=envelope_id,
    )
    await outbox.add(session, subject, envelope)
    return envelope
