"""The reset orchestrator (reset.md §4.2): stop the account's imports, then start storage.

Imports are stopped through `kith_common.imports` (the cancel function the gateway's cancel
uses): pending phases → cancelled, processing → cancelling, key wiped, reason account_reset.

Runs on `kith.cmd.account.reset` after admission recorded the reset and bumped the
generation. Resumable: a redelivery (killed process, any replica) re-runs the idempotent
cancel, resumes the wait, and the guarded stage move publishes the next events once.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from sqlalchemy import func

from kith_common import imports
from kith_common.events.payloads.resets import (
    AccountResetImportsStopped,
    AccountResetStorageStarted,
)
from kith_common.events.subjects import (
    ACCOUNT_RESET_IMPORTS_STOPPED,
    ACCOUNT_RESET_STORAGE_STARTED,
)
from kith_reset import queries
from kith_reset.job import Job
from kith_reset.tuning import Tuning

log = structlog.get_logger(__name__)


async def run(job: Job, tuning: Tuning) -> None:
    if not await _stop_imports(job):
        return
    await _wait_for_imports(job, tuning)
    async with job.unit_of_work() as session:
        reset = await queries.lock_reset(session, job.reset_id)
        if reset is None or reset.status != "running" or reset.attempt != job.attempt:
            return
        if not await queries.move_stage(session, job.reset_id, "stopping_imports", "storage"):
            return
        await queries.mark_running(session, job.reset_id, ("storage",))
        step = {"reset_id": job.reset_id, "attempt": job.attempt}
        await job.publish(
            session, ACCOUNT_RESET_IMPORTS_STOPPED, AccountResetImportsStopped(**step)
        )
        await job.publish(
            session, ACCOUNT_RESET_STORAGE_STARTED, AccountResetStorageStarted(**step)
        )
    log.info("reset_imports_stopped", reset_id=job.reset_id, attempt=job.attempt)


async def _stop_imports(job: Job) -> bool:
    """Enter `stopping_imports` and cancel; False when this message has nothing to do."""
    async with job.unit_of_work() as session:
        reset = await queries.lock_reset(session, job.reset_id)
        if (
            reset is None
            or reset.account_id != job.account_id
            or reset.status != "running"
            or reset.attempt != job.attempt
        ):
            return False
        if reset.stage == "accepted":
            reset.stage = "stopping_imports"
            if reset.started_at is None:
                reset.started_at = func.now()
        elif reset.stage != "stopping_imports":
            return False  # already past this step: a late redelivery
        # The imports domain's own cancel function, the one `kith.cmd.import.cancel` uses.
        cancelled = await imports.cancel_account_imports(
            session, account_id=job.account_id, reason="account_reset"
        )
    if cancelled:
        log.info(
            "reset_imports_cancelled", reset_id=job.reset_id, imports=[i.id for i in cancelled]
        )
    return True


async def _wait_for_imports(job: Job, tuning: Tuning) -> None:
    """Poll until no phase is `cancelling` with a live worker; force stale or timed-out ones."""
    started = time.monotonic()
    while True:
        async with job.unit_of_work() as session:
            await imports.force_stale_cancelling(
                session,
                account_id=job.account_id,
                stale_after_seconds=tuning.cancelling_stale_seconds,
            )
            left = await queries.still_cancelling(session, job.account_id)
            if left and time.monotonic() - started > tuning.import_stop_timeout:
                # The fence already refuses their rows; a refused writer deletes its file.
                forced = await imports.force_stale_cancelling(
                    session, account_id=job.account_id, stale_after_seconds=0
                )
                log.warning(
                    "reset_import_stop_timed_out",
                    reset_id=job.reset_id,
                    forced=[i.id for i in forced],
                )
                left = await queries.still_cancelling(session, job.account_id)
        if not left:
            return
        await job.heartbeat()
        await asyncio.sleep(tuning.import_poll_seconds)
