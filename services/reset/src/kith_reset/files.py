"""The storage stage (reset.md §4.3): delete the account's files before any row goes.

File keys exist only in photos, documents and imports rows, so this stage runs first and
fails the reset rather than skipping an error: while the rows stand, a retry can still find
the keys. Keys are read in keyset pages of 500 per source; the checkpoint (last id per
source) commits with each page's counts. A missing file counts as `missing`; what is left
under `a/<id>/` afterwards (files of crashed writers) is deleted and counted as `orphans`.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import func

from kith_common.storage import Storage, account_prefix
from kith_reset import cleanup, metrics, queries, state
from kith_reset.job import Job
from kith_reset.tuning import Tuning

log = structlog.get_logger(__name__)
NAME = "storage"
SOURCES = ("photos", "documents", "imports")


# Deletes of one page run concurrently (file system threads, S3 requests), a few at a time.
PARALLEL_DELETES = 16


async def _delete_all(storage: Storage, keys: list[str]) -> list[bool]:
    """Delete every key; True where a file was there. The first backend error is raised."""
    gate = asyncio.Semaphore(PARALLEL_DELETES)

    async def one(key: str) -> bool:
        async with gate:
            return await storage.delete(key)

    return list(await asyncio.gather(*(one(key) for key in keys)))


async def run(job: Job, storage: Storage, tuning: Tuning) -> None:
    try:
        await _run(job, storage, tuning)
    except Exception as err:
        await cleanup.record_failure(job, NAME, err)
        raise


async def _run(job: Job, storage: Storage, tuning: Tuning) -> None:
    async with job.unit_of_work() as session:
        row = await state.claim(session, job, NAME)
        if row is None:
            return
        row.status = "running"
        row.deliveries = job.deliveries
        row.heartbeat_at = func.now()
        if row.started_at is None:
            row.started_at = func.now()
    for source in SOURCES:
        while True:
            if tuning.faults is not None:
                await tuning.faults(NAME, source, job.account_id)
            async with job.unit_of_work() as session:
                row = await state.claim(session, job, NAME)
                if row is None:
                    return
                checkpoint = dict(row.checkpoint or {})
                after = int(checkpoint.get(source, 0))
                page = await queries.file_keys(
                    session, source, job.account_id, after, tuning.storage_page
                )
                found = await _delete_all(storage, [key for _row_id, key in page])
                deleted = sum(found)
                missing = len(found) - deleted
                if page:
                    checkpoint[source] = page[-1][0]
                    row.checkpoint = checkpoint
                state.add_counts(row, source, deleted)
                state.add_counts(row, "missing", missing)
                row.heartbeat_at = func.now()
            metrics.FILES_DELETED.labels(source).inc(deleted)
            metrics.FILES_DELETED.labels("missing").inc(missing)
            await job.heartbeat()
            if len(page) < tuning.storage_page:
                break
    async with job.unit_of_work() as session:
        row = await state.claim(session, job, NAME)
        if row is None:
            return
        orphans = await storage.delete_prefix(account_prefix(job.account_id))
        state.add_counts(row, "orphans", orphans)
    metrics.FILES_DELETED.labels("orphans").inc(orphans)
    await cleanup.finish(job, NAME)
