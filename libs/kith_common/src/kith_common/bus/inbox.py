"""Idempotent consumption: the `(consumer, message id)` inbox row.

The row is written in the handler's own transaction, so "handled" and "its effects" commit
together: a message redelivered after a crash, or after JetStream's duplicate window, finds
its row and is acked without a second effect.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import Inbox


async def claim(
    session: AsyncSession, consumer: str, message_id: uuid.UUID, account_id: int | None
) -> bool:
    """Record the message as handled by `consumer`; False if it already was.

    A concurrent duplicate blocks on the unique key until the first transaction ends, then
    sees the conflict: at most one of two parallel deliveries proceeds.
    """
    inserted = await session.scalar(
        insert(Inbox)
        .values(consumer=consumer, message_id=message_id, account_id=account_id)
        .on_conflict_do_nothing(index_elements=[Inbox.consumer, Inbox.message_id])
        .returning(Inbox.message_id)
    )
    return inserted is not None


async def seen(session: AsyncSession, consumer: str, message_id: uuid.UUID) -> bool:
    """Whether `consumer` already handled the message (no lock; for long handlers' pre-check)."""
    found = await session.scalar(
        select(Inbox.message_id).where(Inbox.consumer == consumer, Inbox.message_id == message_id)
    )
    return found is not None


async def prune(session: AsyncSession, older_than: dt.datetime) -> int:
    """Delete rows past the event retention (+1 day): no redelivery can reach them any more."""
    result = await session.execute(delete(Inbox).where(Inbox.processed_at < older_than))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
