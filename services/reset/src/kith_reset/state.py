"""Claiming a domain row for one step: the checks every cleanup transaction starts with."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import AccountReset, AccountResetDomain
from kith_reset import queries
from kith_reset.job import Job


async def claim(
    session: AsyncSession, job: Job, name: str, *, check_reset: bool = True
) -> AccountResetDomain | None:
    """Lock the domain row; None when there is nothing to do for this message.

    Nothing to do: the domain is already `done` (a redelivery, or a second delivery that
    waited on the lock), or the message is not for the running attempt of its reset
    (reset.md §3: handlers drop anything not for a running attempt). Batches after the first
    skip the reset check (`check_reset=False`): the fence already proves the attempt is
    current (each attempt bumps the generation), and a reset failed by another domain lets
    the stage's other consumers finish (reset.md §7).
    """
    row = await queries.lock_domain(session, job.reset_id, name)
    if row is None or row.status in ("done", "failed"):
        return None
    if not check_reset:
        return row
    reset = await session.get(AccountReset, job.reset_id, populate_existing=True)
    if (
        reset is None
        or reset.account_id != job.account_id
        or reset.status != "running"
        or reset.attempt != job.attempt
    ):
        return None
    return row


def add_counts(row: AccountResetDomain, key: str, rows: int) -> None:
    """Accumulate `rows` under `key` (a new dict, so the JSONB change is flushed)."""
    counts = dict(row.counts)
    counts[key] = int(counts.get(key, 0)) + rows
    row.counts = counts


def current_counts(row: AccountResetDomain) -> dict[str, int]:
    return {str(key): int(value) for key, value in row.counts.items()}


__all__ = ["AccountReset", "add_counts", "claim", "current_counts"]
