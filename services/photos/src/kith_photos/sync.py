"""The media phase of a Monica import: photos, then documents (importer.md §9–§11).

One run moves `media_status` pending → processing → completed | failed | cancelled. It is
started by `kith.evt.import.completed` or `kith.cmd.photos.sync` and resumed by a redelivery
from the checkpoint; pages are handled by `photo_pages` and `document_pages`, each committed
by `phase.commit_page`. A stale generation raises out with nothing written.

A lease in the checkpoint (owner + database-clock time, refreshed every few seconds) keeps two
deliveries of one import's media work from running at once; a run that stops to be retried
frees it, so the retry resumes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import imports
from kith_common.db.models import Import
from kith_common.errors import StaleGeneration, Transient
from kith_common.events import subjects
from kith_common.events.payloads.imports import ImportFailed
from kith_common.events.payloads.photos import PhotosSyncCompleted
from kith_common.monica.client import MonicaClient, origin_of
from kith_common.monica.errors import MonicaRetryLater, MonicaUnavailable
from kith_common.monica.ratelimit import RateLimiter, bucket_key
from kith_common.monica.urls import api_root, normalize_api_url, source_name
from kith_photos import queries
from kith_photos.document_pages import sync_documents
from kith_photos.downloads import Downloader
from kith_photos.phase import (
    Fatal,
    MediaEnv,
    MediaLimits,
    Outcome,
    Phase,
    Run,
    Stop,
    cancel,
    hold,
    no_phase_left,
    progress,
    save,
    summary_json,
)
from kith_photos.photo_pages import PHOTO_PAGE_RETRIES, sync_photos
from kith_photos.summary import SyncSummary

__all__ = ["MediaEnv", "MediaLimits", "Outcome", "run_media_phase"]

log = structlog.get_logger(__name__)

LEASE_STALE_SECONDS: Final = 20.0
LEASE_REFRESH_SECONDS: Final = 5.0


async def run_media_phase(
    env: MediaEnv, *, import_id: int, generation: int | None, last_attempt: bool
) -> Outcome:
    """Run (or resume) the media phase of `import_id`; returns how it ended.

    Raises:
        StaleGeneration: the account was reset since the message (acked, nothing written).
        Transient: Monica stayed unavailable, or another worker holds the lease; the message
            is retried and resumes from the checkpoint. On the last delivery the phase is
            failed instead, so an import is never left `processing`.
    """
    owner = f"photos-{uuid.uuid4().hex[:12]}"
    try:
        run = await _begin(env, import_id, generation, owner)
    except Stop as stop:
        return stop.outcome
    keeper = asyncio.create_task(_keep_lease(env, run))
    try:
        return await _drive(env, run, last_attempt=last_attempt)
    except StaleGeneration:
        raise
    except Exception:
        await _release(env, run)
        raise
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await keeper


async def _release(env: MediaEnv, run: Run) -> None:
    """Best effort: free the lease so the retry of this message does not wait it out."""
    with contextlib.suppress(Exception):
        async with env.sessions() as session, session.begin():
            await queries.release_lease(session, run.import_id, run.owner)


async def _drive(env: MediaEnv, run: Run, *, last_attempt: bool) -> Outcome:
    limits = env.limits
    limiter = RateLimiter(
        env.sessions,
        key=bucket_key(origin_of(api_root(run.api_url)), run.api_key),
        per_window=limits.rate_limit_per_minute,
        window_seconds=limits.rate_window_seconds,
    )
    try:
        if run.want_photos and run.phase == "photos":
            async with MonicaClient(
                run.api_url,
                run.api_key,
                limiter=limiter,
                allow_private=limits.allow_private,
                allowed_hosts=limits.allowed_hosts,
                max_response_bytes=limits.photo_page_max_bytes,
                read_timeout=limits.photo_page_timeout_seconds,
                # One retry, then the smaller-limit ladder: a page that timed out twice is too
                # heavy (API §11.5); 5xx still failing resumes through the message's retries.
                max_retries=PHOTO_PAGE_RETRIES,
            ) as client:
                await sync_photos(env, run, client)
        if run.want_documents:
            async with (
                MonicaClient(
                    run.api_url,
                    run.api_key,
                    limiter=limiter,
                    allow_private=limits.allow_private,
                    allowed_hosts=limits.allowed_hosts,
                    max_response_bytes=limits.response_max_bytes,
                ) as client,
                Downloader(
                    monica=client,
                    monica_url=normalize_api_url(run.api_url),
                    api_key=run.api_key,
                    hosts=env.hosts,
                    allow_private=limits.allow_private,
                    allowed_hosts=limits.allowed_hosts,
                    max_bytes=limits.document_max_bytes,
                ) as downloader,
            ):
                await sync_documents(env, run, client, downloader)
        return await _finish(env, run)
    except Stop as stop:
        return stop.outcome
    except Fatal as fatal:
        return await _fail(env, run, fatal.phase, fatal.message)
    except MonicaUnavailable as err:
        if last_attempt or isinstance(err, MonicaRetryLater):  # a long 429 wait fails at once
            return await _fail(env, run, run.phase, err.message)
        raise Transient(err.message) from None
    except StaleGeneration:
        raise
    except Exception as err:
        # importer.md §10: a failure never leaves the import `processing`. Earlier deliveries
        # are retried (and resume); the last one records the failure as the phase's result.
        if last_attempt:
            reason = f"the media sync stopped on an internal error ({type(err).__name__})"
            return await _fail(env, run, run.phase, reason)
        raise


async def _begin(env: MediaEnv, import_id: int, generation: int | None, owner: str) -> Run:
    async with env.unit_of_work() as session:
        row = await queries.lock_import(session, import_id)
        if row is None or row.source != "monica_api" or row.status != "completed":
            raise Stop("nothing_to_do")
        if generation is not None and row.generation != generation:
            raise Stop("nothing_to_do")
        status = row.media_status
        checkpoint = await queries.read_checkpoint(session, import_id)
        run: Run | None = None
        if status == "cancelling":
            phase = (checkpoint or {}).get("phase", "photos")
            await cancel(env, session, row, SyncSummary.from_json(row.sync_summary), phase)
            stop: Outcome | None = "cancelled"
        elif status not in ("pending", "processing"):
            raise Stop("nothing_to_do")
        else:
            stop = None
            run = await _claim(env, session, row, checkpoint, owner)
            if run is None:
                stop = "failed"
    if stop is not None or run is None:
        raise Stop(stop or "stopped")
    structlog.contextvars.bind_contextvars(import_id=import_id)
    log.info("media_sync_started", phase=run.phase, page=run.checkpoint.get("page"))
    return run


async def _claim(
    env: MediaEnv,
    session: AsyncSession,
    row: Import,
    checkpoint: dict[str, Any] | None,
    owner: str,
) -> Run | None:
    """Take the media lease and build the run; None when the phase failed at once (no key)."""
    import_id, status = row.id, row.media_status
    now = await queries.db_epoch(session)
    if status == "processing" and checkpoint is not None:
        holder = checkpoint.get("owner")
        fresh = now - float(checkpoint.get("lease_at", 0.0)) < LEASE_STALE_SECONDS
        if holder not in (None, owner) and fresh:
            msg = f"import {import_id}: media sync running in another worker"
            raise Transient(msg)
        summary = SyncSummary.from_json(row.sync_summary)
        errors = list((row.sync_summary or {}).get("errors", []))
    else:
        if status == "pending":
            await imports.move(
                session, import_id, "media_status", "processing", only_from=("pending",)
            )
        checkpoint = {"run": uuid.uuid4().hex, "phase": "photos", "page": 1, "seen": []}
        summary = SyncSummary()
        errors = []
    api_key = imports.decrypt_api_key(row, (env.limits.encryption_key, *env.limits.previous_keys))
    options = row.options or {}
    run = Run(
        import_id=import_id,
        account_id=row.account_id,
        user_id=row.user_id,
        source=source_name(row.api_url or ""),
        api_url=row.api_url or "",
        api_key=api_key or "",
        want_photos=bool(options.get("photos")),
        want_documents=bool(options.get("documents")),
        owner=owner,
        checkpoint={**checkpoint, "owner": owner, "lease_at": now},
        summary=summary,
        errors=errors,
    )
    if not run.want_photos:
        run.checkpoint.setdefault("phase", "documents")
        if run.checkpoint["phase"] == "photos":
            run.checkpoint.update(phase="documents", page=1, seen=[])
    summary.status = "processing"
    await save(session, run)
    if api_key is None:
        await _fail_in(env, session, run, run.phase, "the Monica API key is no longer stored")
        return None
    await progress(env, session, run, force=True)
    return run


async def _finish(env: MediaEnv, run: Run) -> Outcome:
    async with env.unit_of_work() as session:
        stop = await hold(env, session, run)
        if stop is None:
            await _complete(env, session, run)
    if stop is not None:
        raise Stop(stop)
    log.info("media_sync_completed", **run.summary.counts().model_dump(exclude={"documents"}))
    return "completed"


async def _complete(env: MediaEnv, session: AsyncSession, run: Run) -> None:
    run.summary.status = "completed"
    row = await imports.move(
        session, run.import_id, "media_status", "completed", only_from=("processing",)
    )
    if row is not None:
        await queries.write_sync_summary(session, run.import_id, summary_json(run))
        await queries.drop_checkpoint(session, run.import_id, whole_import=no_phase_left(row))
        await progress(env, session, run, force=True)
        await env.publish(
            session,
            subjects.PHOTOS_SYNC_COMPLETED,
            PhotosSyncCompleted(import_id=run.import_id, sync_summary=run.summary.counts()),
        )


async def _fail(env: MediaEnv, run: Run, phase: Phase, message: str) -> Outcome:
    async with env.unit_of_work() as session:
        row = await queries.lock_import(session, run.import_id)
        if row is None or row.media_status != "processing":
            return "stopped"
        await _fail_in(env, session, run, phase, message)
    return "failed"


async def _fail_in(
    env: MediaEnv, session: AsyncSession, run: Run, phase: Phase, message: str
) -> None:
    run.summary.status = "failed"
    row = await imports.move(
        session,
        run.import_id,
        "media_status",
        "failed",
        only_from=("processing",),
        error=f"{phase}: {message}",
    )
    await queries.write_sync_summary(session, run.import_id, summary_json(run))
    await queries.drop_checkpoint(
        session, run.import_id, whole_import=row is not None and no_phase_left(row)
    )
    await env.publish(
        session,
        subjects.IMPORT_FAILED,
        ImportFailed(import_id=run.import_id, phase=phase, reason=message),
    )
    log.warning("media_sync_failed", phase=phase, reason=message)


async def _keep_lease(env: MediaEnv, run: Run) -> None:
    while True:
        await asyncio.sleep(LEASE_REFRESH_SECONDS)
        try:
            await env.heartbeat()
            async with env.unit_of_work() as session:
                await queries.touch_lease(session, run.import_id, run.owner)
        except StaleGeneration:
            return
        except Exception as err:  # the page transaction will surface it
            log.warning("media_lease_refresh_failed", error=type(err).__name__)
