"""Publishing through the transactional outbox: the only way a service publishes.

`add` writes the envelope into `outbox` in the caller's transaction together with a NOTIFY;
both become visible at commit, never before, so a rolled-back transaction publishes nothing
and a committed one is published by the relay even if this process dies right after.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import Outbox
from kith_common.db.session import PUBLISHES_INFO_KEY, STREAM_PREFIX_INFO_KEY
from kith_common.events.envelope import Envelope
from kith_common.events.subjects import unprefixed

NOTIFY_CHANNEL = "kith_outbox"


class UndeclaredPublishError(RuntimeError):
    """A service queued a subject the registry does not declare it publishes.

    Its NATS user would be refused the publish (`bus.permissions` is generated from the same
    declarations), so the mistake is raised where it is made, in the service's own tests,
    instead of surfacing as a relay retrying forever in production.
    """


async def add(session: AsyncSession, subject: str, envelope: Envelope[Any]) -> None:
    """Queue `envelope` for `subject` (a logical subject, unprefixed) in this transaction.

    The row carries the session's stream prefix: deployments (or tests) that share one
    database but not one set of streams never publish each other's rows. Row and NOTIFY go in
    one statement, one round trip: NOTIFY is transactional, so listeners hear it only if this
    transaction commits, and PostgreSQL folds a transaction's identical notifications into one.

    Raises:
        UndeclaredPublishError: The session is a service's and the registry does not list
            that service among the subject's producers.
    """
    allowed = session.info.get(PUBLISHES_INFO_KEY)
    if allowed is not None and unprefixed(subject) not in allowed:
        msg = (
            f"{subject} is not among the subjects this service publishes; declare it as a "
            "producer in kith_common.events.registry (its NATS user is generated from there)"
        )
        raise UndeclaredPublishError(msg)
    queued = (
        insert(Outbox)
        .values(
            id=envelope.id,
            subject=subject,
            envelope=envelope.model_dump(mode="json"),
            account_id=envelope.account_id,
            generation=envelope.generation,
            stream_prefix=session.info.get(STREAM_PREFIX_INFO_KEY, ""),
        )
        .returning(Outbox.id)
        .cte("queued")
    )
    await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")).select_from(queued))
