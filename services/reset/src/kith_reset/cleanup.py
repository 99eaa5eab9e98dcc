"""A cleanup consumer's work (reset.md §5): delete one domain's tables in bounded batches.

Each batch is one short fenced transaction: lock the domain row, delete at most
`batch_size` rows of the current table, add the count and the heartbeat. The count commits
with its delete, so a consumer killed mid-delete loses at most one uncommitted batch and the
redelivery resumes with exact counts. When every table is empty, one transaction marks the
domain `done` and queues `domain_done`; a redelivery after that finds `done` and stops.
"""

from __future__ import annotations

import time

import structlog
from sqlalchemy import func

from kith_common.errors import StaleGeneration
from kith_common.events.payloads.resets import AccountResetDomainDone, AccountResetDomainProgress
from kith_common.events.subjects import ACCOUNT_RESET_DOMAIN_DONE, ACCOUNT_RESET_DOMAIN_PROGRESS
from kith_reset import metrics, queries, state
from kith_reset.domains import Domain
from kith_reset.job import Job
from kith_reset.tuning import Tuning

log = structlog.get_logger(__name__)
_ERROR_CHARS = 2000


async def run(job: Job, domain: Domain, tuning: Tuning) -> None:
    """Delete the domain's rows of the account; records the error before a failure retries."""
    try:
        await _run(job, domain, tuning)
    except StaleGeneration:
        raise
    except Exception as err:
        await record_failure(job, domain.name, err)
        raise


async def _run(job: Job, domain: Domain, tuning: Tuning) -> None:
    async with job.unit_of_work() as session:
        row = await state.claim(session, job, domain.name)
        if row is None:
            return
        row.status = "running"
        row.deliveries = job.deliveries
        row.heartbeat_at = func.now()
        if row.started_at is None:
            row.started_at = func.now()
    last_progress = time.monotonic()
    for step in domain.tables:
        after: queries.Key | None = None
        while True:
            if tuning.faults is not None:
                await tuning.faults(domain.name, step.name, job.account_id)
            async with job.unit_of_work() as session:
                await queries.set_lock_timeout(session)
                row = await state.claim(session, job, domain.name, check_reset=False)
                if row is None:
                    return
                deleted, last = await queries.delete_batch(
                    session, step, job.account_id, tuning.batch_size, after
                )
                if deleted:
                    state.add_counts(row, step.name, deleted)
                row.heartbeat_at = func.now()
                if deleted and time.monotonic() - last_progress >= tuning.progress_interval:
                    last_progress = time.monotonic()
                    await job.publish(
                        session,
                        ACCOUNT_RESET_DOMAIN_PROGRESS,
                        AccountResetDomainProgress(
                            reset_id=job.reset_id,
                            attempt=job.attempt,
                            domain=domain.name,  # type: ignore[arg-type]
                            counts=state.current_counts(row),
                        ),
                    )
            if deleted:
                metrics.ROWS_DELETED.labels(domain.name, step.name).inc(deleted)
            await job.heartbeat()
            if deleted == tuning.batch_size and last is not None:
                after = last
            elif deleted < tuning.batch_size:
                if after is None:
                    break  # a pass from the lowest key found the table empty
                after = None  # confirm from the lowest key that nothing is left
    await finish(job, domain.name)


async def finish(job: Job, name: str) -> None:
    """Mark the domain `done` and queue `domain_done` with its counts, once."""
    async with job.unit_of_work() as session:
        row = await state.claim(session, job, name)
        if row is None:
            return
        row.status = "done"
        row.finished_at = func.now()
        row.heartbeat_at = func.now()
        row.last_error = None
        counts = state.current_counts(row)
        await job.publish(
            session,
            ACCOUNT_RESET_DOMAIN_DONE,
            AccountResetDomainDone(
                reset_id=job.reset_id,
                attempt=job.attempt,
                domain=name,  # type: ignore[arg-type]
                counts=counts,
            ),
        )
    log.info("reset_domain_finished", domain=name, reset_id=job.reset_id, counts=counts)


async def record_failure(job: Job, name: str, err: BaseException) -> None:
    """reset.md §7: `last_error` and `deliveries` on the domain row, in their own transaction."""
    message = f"{type(err).__name__}: {err}"[:_ERROR_CHARS]
    try:
        async with job.unit_of_work() as session:
            row = await queries.lock_domain(session, job.reset_id, name)
            if row is not None and row.status != "done":
                row.last_error = message
                row.deliveries = job.deliveries
    except Exception as record_err:  # the original failure is what gets retried
        log.warning("reset_failure_not_recorded", domain=name, error=str(record_err))
    log.warning("reset_domain_failed", domain=name, deliveries=job.deliveries, error=message)
