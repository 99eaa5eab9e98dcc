"""Fan-in (reset.md §4.4–§4.6): move the reset to its next stage when a stage's domains are done.

Each `domain_done` is handled under `SELECT ... FOR UPDATE` on the reset row, and the stage
moves with a guarded update (`WHERE stage = <expected>`), so concurrent or repeated messages
advance each stage exactly once, and completion writes one audit row and one `completed`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.bus import outbox
from kith_common.db.models import AccountReset, AccountResetDomain, AuditLog
from kith_common.events.envelope import Envelope
from kith_common.events.payloads.resets import (
    AccountResetCompleted,
    AccountResetContactsStarted,
    AccountResetStarted,
)
from kith_common.events.subjects import (
    ACCOUNT_RESET_COMPLETED,
    ACCOUNT_RESET_CONTACTS_STARTED,
    ACCOUNT_RESET_STARTED,
)
from kith_reset import metrics, queries
from kith_reset.domains import DOMAINS, STAGE_DOMAINS

log = structlog.get_logger(__name__)
FollowUp = Callable[[str, Any], Envelope[Any]]
FILE_CLASSES = ("photos", "documents", "imports", "orphans")


async def on_domain_done(
    session: AsyncSession, *, account_id: int, reset_id: int, attempt: int, follow_up: FollowUp
) -> str | None:
    """Advance the reset if the stage is complete; return the stage it moved to, if any."""
    reset = await queries.lock_reset(session, reset_id)
    if (
        reset is None
        or reset.account_id != account_id
        or reset.status != "running"
        or reset.attempt != attempt
    ):
        return None
    rows = {row.domain: row for row in await queries.domains_of(session, reset_id)}

    def all_done(stage: str) -> bool:
        return all(rows[name].status == "done" for name in STAGE_DOMAINS[stage] if name in rows)

    step = {"reset_id": reset_id, "attempt": attempt}
    if reset.stage == "storage" and all_done("storage"):
        if await queries.move_stage(session, reset_id, "storage", "domains"):
            await queries.mark_running(session, reset_id, STAGE_DOMAINS["domains"])
            await _publish(session, follow_up, ACCOUNT_RESET_STARTED, AccountResetStarted(**step))
            return "domains"
    elif reset.stage == "domains" and all_done("domains"):
        if await queries.move_stage(session, reset_id, "domains", "contacts"):
            await queries.mark_running(session, reset_id, STAGE_DOMAINS["contacts"])
            await _publish(
                session,
                follow_up,
                ACCOUNT_RESET_CONTACTS_STARTED,
                AccountResetContactsStarted(**step),
            )
            return "contacts"
    elif (
        reset.stage == "contacts"
        and all_done("contacts")
        and await queries.move_stage(session, reset_id, "contacts", "done")
    ):
        await _complete(session, reset, rows, follow_up)
        return "done"
    return None


async def _complete(
    session: AsyncSession,
    reset: AccountReset,
    rows: dict[str, AccountResetDomain],
    follow_up: FollowUp,
) -> None:
    """reset.md §4.6: completed, totals, the lasting audit row and `reset.completed`, at once."""
    counts = {
        d.name: {str(k): int(v) for k, v in rows[d.name].counts.items()}
        for d in DOMAINS
        if d.name in rows
    }
    files = sum(counts.get("storage", {}).get(cls, 0) for cls in FILE_CLASSES)
    table_rows = sum(sum(c.values()) for name, c in counts.items() if name != "storage")
    now: dt.datetime | None = await session.scalar(select(func.now()))
    assert now is not None
    duration = (now - reset.requested_at).total_seconds()
    reset.status = "completed"
    reset.stage = "done"
    reset.finished_at = now
    reset.totals = {
        "rows": table_rows,
        "files": files,
        "missing_files": counts.get("storage", {}).get("missing", 0),
    }
    session.add(
        AuditLog(
            account_id=reset.account_id,
            user_id=reset.requested_by_id,
            user_name=reset.requested_by_name or "unknown",
            event="account_data_reset",
            metadata_={
                "reset_id": reset.id,
                "attempts": reset.attempt,
                "generation": reset.generation,
                "duration_s": round(duration, 3),
                "domains": counts,
            },
        )
    )
    await _publish(
        session,
        follow_up,
        ACCOUNT_RESET_COMPLETED,
        AccountResetCompleted(reset_id=reset.id, attempt=reset.attempt, counts=counts),  # type: ignore[arg-type]
    )
    metrics.RESETS.labels("completed").inc()
    metrics.RESET_SECONDS.observe(duration)
    log.info("reset_completed", reset_id=reset.id, attempt=reset.attempt, totals=reset.totals)


async def _publish(session: AsyncSession, follow_up: FollowUp, subject: str, data: Any) -> None:
    await outbox.add(session, subject, follow_up(subject, data))
