"""What a long reset step gets from its message: ids, a fenced unit of work, a heartbeat.

Domain code takes a `Job`, never the message (CONVENTIONS §2): it opens short fenced
transactions, keeps the message alive between them, and stamps follow-up envelopes with the
reset's generation and correlation id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.bus import outbox
from kith_common.events.envelope import Envelope, Payload


@dataclass(frozen=True, slots=True)
class Job:
    account_id: int
    reset_id: int
    attempt: int
    deliveries: int
    unit_of_work: Callable[[], AbstractAsyncContextManager[AsyncSession]]
    heartbeat: Callable[[], Awaitable[None]]
    follow_up: Callable[[str, Any], Envelope[Any]]

    async def publish(self, session: AsyncSession, subject: str, data: Payload) -> None:
        """Queue a follow-up event in `session`'s outbox."""
        await outbox.add(session, subject, self.follow_up(subject, data))
