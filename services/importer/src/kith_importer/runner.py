"""Running one delivery of `kith.cmd.import.start` (importer.md §7.0, §10).

On entry: pending → processing; processing → resume from the checkpoint; cancelling →
cancelled; a final status → nothing. The lease (`lease_owner`, `heartbeat_at`) makes a second
delivery of the same start wait (nak with delay) while the first worker is alive; a background
task refreshes it every few seconds, even while the crawl waits on the rate limiter, and wakes
that wait when it sees `cancelling`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import imports
from kith_common.bus.subscribe import MessageContext
from kith_common.crypto import SecretDecryptError
from kith_common.errors import StaleGeneration, Transient
from kith_common.events.payloads.imports import ImportOptions, StartImport
from kith_common.monica.errors import MonicaError, MonicaInterrupted, MonicaRetryLater
from kith_common.monica.ratelimit import RateLimiter
from kith_common.monica.urls import source_name
from kith_importer import metrics
from kith_importer.config import ImporterConfig, owner_is_dead
from kith_importer.contacts import CrawlScope
from kith_importer.crawl import CancelSeen, Crawl, FatalImport, LeaseLost, UnitOfWork
from kith_importer.monica import open_client
from kith_importer.phases import run_phases
from kith_importer.statistics import PlannerStatistics

__all__ = ["HEARTBEAT_SECONDS", "run_import"]

log = structlog.get_logger(__name__)
HEARTBEAT_SECONDS = 5.0

# Process-local: lets the cancel command wake a crawl of this process waiting on the limiter.
RUNNING: dict[int, RateLimiter] = {}
# Process-local: imports this process is crawling, each with an event set when it stops. The
# lease names the process, so a second delivery of one start handled concurrently here (the
# consumer runs several) would take the lease as its own and crawl beside the first; it waits
# for the first to stop instead (its message kept alive meanwhile), then finds the import's
# status as the first left it.
ACTIVE: dict[int, asyncio.Event] = {}


async def run_import(
    ctx: MessageContext[StartImport],
    config: ImporterConfig,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    import_id = ctx.data.import_id
    while (running := ACTIVE.get(import_id)) is not None:
        await running.wait()
    stopped = ACTIVE[import_id] = asyncio.Event()
    try:
        await _run(ctx, config, sessions, import_id)
    finally:
        del ACTIVE[import_id]
        stopped.set()


async def _run(
    ctx: MessageContext[StartImport],
    config: ImporterConfig,
    sessions: async_sessionmaker[AsyncSession],
    import_id: int,
) -> None:
    with structlog.contextvars.bound_contextvars(import_id=import_id):
        async with ctx.unit_of_work() as session:
            lease = await imports.take_lease(
                session,
                import_id,
                config.owner,
                owner_is_dead=lambda owner: owner_is_dead(owner, config.owner),
            )
            row = lease.row
            if row is None or row.account_id != ctx.envelope.account_id:
                log.warning("import_start_unknown")
                return
            if lease.busy:
                msg = f"import {import_id} is being crawled by another worker"
                raise Transient(msg)
            status = row.status
            if status == "pending":
                row = await imports.move(session, import_id, "status", "processing")
                assert row is not None
        if status in imports.FINAL:
            return
        options = ImportOptions.model_validate(row.options or {})
        if row.source != "monica_api" or not row.api_url:
            await _fail_without_client(
                ctx, import_id, "vCard imports are not handled by this importer version"
            )
            return
        try:
            api_key = imports.decrypt_api_key(row, config.decryption_keys)
        except SecretDecryptError as err:
            api_key, key_problem = None, err.detail or str(err)
        else:
            key_problem = "the Monica API key is no longer stored"
        client = open_client(config, sessions, row.api_url, api_key or "-")
        crawl = Crawl(
            row=row,
            client=client,
            unit_of_work=ctx.unit_of_work,
            publish=_publisher(ctx),
            owner=config.owner,
            scope=CrawlScope(
                account_id=row.account_id,
                import_id=row.id,
                user_id=row.user_id,
                source=source_name(row.api_url),
                region=options.phone_default_region or None,
            ),
            options=options,
            fenced_step=_fenced_step(ctx, sessions),
            statistics=PlannerStatistics(sessions, config.analyze_after_contacts),
        )
        if status == "cancelling":
            await crawl.cancelled()
            await client.aclose()
            return
        if api_key is None:
            await crawl.failed(key_problem)
            await client.aclose()
            return
        assert client.limiter is not None
        RUNNING[import_id] = client.limiter
        beat = asyncio.create_task(_heartbeat(sessions, import_id, config.owner, client.limiter))
        try:
            await _crawl(ctx, crawl, config)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            RUNNING.pop(import_id, None)
            await client.aclose()
            if crawl.statistics is not None:
                await crawl.statistics.aclose()


async def _crawl(ctx: MessageContext[StartImport], crawl: Crawl, config: ImporterConfig) -> None:
    try:
        await run_phases(crawl)
    except CancelSeen:
        await crawl.cancelled()
    except LeaseLost:
        log.warning("import_lease_lost")
    except FatalImport as err:
        await crawl.failed(str(err))
    except MonicaInterrupted:
        # The heartbeat or the cancel command set the limiter's wake: cancelling (this
        # records it) or the lease was lost (this writes nothing, like LeaseLost).
        await crawl.cancelled()
    except MonicaRetryLater as err:
        await crawl.failed(err.message)  # hours of 429 waits would hold this worker
    except MonicaError as err:
        # Transient, retries spent. The redelivery resumes from the checkpoint; the last one
        # fails the import with the readable reason instead of leaving it processing.
        if ctx.deliveries >= config.max_deliver:
            await crawl.failed(err.message)
            return
        raise
    except StaleGeneration:
        raise  # the account was reset: write nothing, the bus acks it
    except Exception as err:
        # Anything else (a database outage, a bug) is retried like a transient failure; the
        # last delivery records it instead of leaving the import processing (§10 Failure).
        if ctx.deliveries >= config.max_deliver:
            log.error("import_crashed", error=f"{type(err).__name__}: {err}")
            await crawl.failed(f"the importer failed unexpectedly ({type(err).__name__})")
            return
        raise


def _fenced_step(
    ctx: MessageContext[StartImport], sessions: async_sessionmaker[AsyncSession]
) -> tuple[int, int, UnitOfWork] | None:
    """What a crawl step needs to hold the fence itself (None: no fence on this envelope)."""
    account_id, generation = ctx.envelope.account_id, ctx.envelope.generation
    if account_id is None or generation is None:
        return None

    @contextlib.asynccontextmanager
    async def begin() -> AsyncIterator[AsyncSession]:
        async with sessions() as session, session.begin():
            yield session

    return account_id, generation, begin


def _publisher(ctx: MessageContext[StartImport]) -> Any:
    async def publish(subject: str, data: Any, session: AsyncSession) -> None:
        await ctx.publish(subject, data, session=session)

    return publish


async def _fail_without_client(
    ctx: MessageContext[StartImport], import_id: int, reason: str
) -> None:
    from kith_common.events import subjects
    from kith_common.events.payloads.imports import ImportFailed

    async with ctx.unit_of_work() as session:
        row = await imports.move(
            session,
            import_id,
            "status",
            "failed",
            only_from=("processing",),
            error=reason,
            cancel_pending_follow_ups=True,
        )
        if row is not None:
            await ctx.publish(
                subjects.IMPORT_FAILED,
                ImportFailed(import_id=import_id, phase=None, reason=reason),
                session=session,
            )
    if row is not None:
        metrics.import_ended("monica_api", "failed")


async def _heartbeat(
    sessions: async_sessionmaker[AsyncSession], import_id: int, owner: str, limiter: RateLimiter
) -> None:
    """Keep the lease fresh while the crawl waits; wake the limiter on `cancelling`."""
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        try:
            async with sessions() as session, session.begin():
                status = await imports.beat(session, import_id, owner)
        except Exception as err:  # a missed beat is retried; the crawl's own steps beat too
            log.warning("import_heartbeat_failed", error=type(err).__name__)
            continue
        if status is None or status == "cancelling":
            limiter.wake.set()


def wake(import_id: int) -> bool:
    """The cancel command: wake this process's crawl of `import_id` if it is waiting."""
    limiter = RUNNING.get(import_id)
    if limiter is None:
        return False
    limiter.wake.set()
    return True


__all__ += ["wake"]
