"""reset-dlq (reset.md §7): a reset letter in the DLQ fails its reset, naming the domain.

Only letters of reset consumers, for the running attempt of their reset, count: the bus
wrapper already acked letters of an older generation (a replayed or earlier attempt's
letter), and anything else is ignored. The other consumers of the stage still finish; the
next stage never starts, so a failure before the contacts stage leaves contacts intact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.bus import outbox
from kith_common.events.envelope import Envelope
from kith_common.events.payloads.dlq import DeadLetter
from kith_common.events.payloads.resets import AccountResetDomainFailed, AccountResetFailed
from kith_common.events.subjects import ACCOUNT_RESET_DOMAIN_FAILED, ACCOUNT_RESET_FAILED
from kith_reset import metrics, queries
from kith_reset.domains import DOMAINS

log = structlog.get_logger(__name__)
FollowUp = Callable[[str, Any], Envelope[Any]]
FAILURE_DOMAINS = frozenset(d.name for d in DOMAINS) | {"orchestrator", "fanin"}
_PREFIX = "reset-"


def failed_domain(consumer: str) -> str | None:
    """The domain a reset consumer's letter names (`reset-notes` → notes), else None."""
    if not consumer.startswith(_PREFIX):
        return None
    name = consumer[len(_PREFIX) :]
    return name if name in FAILURE_DOMAINS else None


async def on_dead_letter(
    session: AsyncSession,
    letter: DeadLetter,
    *,
    account_id: int | None,
    generation: int | None,
    follow_up: FollowUp,
) -> bool:
    """Fail the reset the letter belongs to; True when it did."""
    name = failed_domain(letter.consumer)
    data = letter.envelope.get("data")
    if name is None or account_id is None or not isinstance(data, dict):
        return False
    reset_id, attempt = data.get("reset_id"), data.get("attempt")
    if not isinstance(reset_id, int) or not isinstance(attempt, int):
        return False
    reset = await queries.lock_reset(session, reset_id)
    if (
        reset is None
        or reset.account_id != account_id
        or reset.status != "running"
        or reset.attempt != attempt
        or reset.generation != generation
    ):
        return False
    message = letter.error_message
    if name not in ("orchestrator", "fanin"):
        row = await queries.lock_domain(session, reset_id, name)
        if row is not None:
            row.status = "failed"
            row.last_error = message
            row.deliveries = letter.deliveries
    reset.status = "failed"
    reset.error = {"domain": name, "message": message, "at": dt.datetime.now(dt.UTC).isoformat()}
    for subject, payload in (
        (
            ACCOUNT_RESET_DOMAIN_FAILED,
            AccountResetDomainFailed(
                reset_id=reset_id,
                attempt=attempt,
                domain=name,
                error=message,  # type: ignore[arg-type]
            ),
        ),
        (
            ACCOUNT_RESET_FAILED,
            AccountResetFailed(reset_id=reset_id, attempt=attempt, domain=name, error=message),  # type: ignore[arg-type]
        ),
    ):
        await outbox.add(session, subject, follow_up(subject, payload))
    metrics.RESETS.labels("failed").inc()
    log.error("reset_failed", reset_id=reset_id, attempt=attempt, domain=name, error=message)
    return True
