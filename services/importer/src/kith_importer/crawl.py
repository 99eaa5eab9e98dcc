"""The state of one Monica crawl (importer.md §7) and its checkpointed steps; the phases
themselves (P0 reference data → P1 listing → P1.2 notes → P1.4 coverage backfill → P1.5
auto-merge → P2 cross references → completed) are `kith_importer.phases`.

Every step is one fenced transaction that also refreshes the lease, re-reads the status (a
`cancelling` seen there stops the crawl before it writes anything), and commits the counters
and the checkpoint with the rows: a redelivered command resumes at the checkpoint and, because
every upsert goes through import_records and the listing trace, never double-counts. The
same step commits `summary.requests_by_phase` (phase → purpose → requests) and the last
progress numbers (`summary.progress`: requests done, estimated, and the ETA).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import imports
from kith_common.db.models import Import
from kith_common.events import subjects
from kith_common.events.payloads.imports import (
    CoverageBackfillCounts,
    ImportCancelled,
    ImportCompleted,
    ImportCounts,
    ImportFailed,
    ImportOptions,
    ImportPhase,
    ImportProgress,
)
from kith_common.monica.client import MonicaClient
from kith_common.monica.errors import MonicaError
from kith_importer import metrics, queries
from kith_importer.contacts import CrawlScope, Outcome
from kith_importer.misc.queries import STATS_KIND
from kith_importer.misc.shortfall import counts_of
from kith_importer.parsing import as_dict
from kith_importer.reference import ReferenceMap
from kith_importer.statistics import PlannerStatistics

__all__ = [
    "CHUNK",
    "PHASES",
    "CancelSeen",
    "Crawl",
    "LeaseLost",
]

log = structlog.get_logger(__name__)

CHUNK: Final = 10
ITEM_CHUNK: Final = 100
MAX_ERRORS: Final = 50
PROGRESS_INTERVAL: Final = 2.0
REFERENCE_LISTS: Final = ("genders", "contactfieldtypes", "relationshiptypes", "tags")
PHASES: Final[tuple[ImportPhase, ...]] = (
    "reference_data",
    "listing",
    "notes",
    "coverage_backfill",
    "auto_merge",
    "cross_references",
)


class CancelSeen(Exception):  # a signal, not a failure
    """The import is `cancelling`: stop before writing anything more."""


class LeaseLost(Exception):
    """Another worker took the lease over (ours went stale): stop, write nothing."""


class FatalImport(Exception):
    """Retrying cannot help (401 on the listing, HTML listing, bad URL, SSRF refusal)."""


UnitOfWork = Callable[[], contextlib.AbstractAsyncContextManager[AsyncSession]]
Publish = Callable[[str, Any, AsyncSession], Awaitable[None]]


def empty_summary() -> dict[str, Any]:
    return {
        "imported": 0,
        "contacts": 0,
        "created": 0,
        "updated": 0,
        "notes": 0,
        "notes_skipped": 0,
        "skipped": 0,
        "merged": 0,
        "relationships": 0,
        "error_count": 0,
        "errors": [],
        "coverage_backfill": CoverageBackfillCounts().model_dump(),
        "requests": 0,
        "requests_by_phase": {},
        "rate_limit_wait_seconds": 0.0,
        "duration_seconds": 0.0,
    }


@dataclass
class Crawl:
    """The state of one delivery of one import's crawl."""

    row: Import
    client: MonicaClient
    unit_of_work: UnitOfWork
    publish: Publish
    owner: str
    scope: CrawlScope
    options: ImportOptions
    summary: dict[str, Any] = field(default_factory=empty_summary)
    checkpoint: dict[str, Any] = field(default_factory=dict)
    refmap: ReferenceMap | None = None
    # Monica contact id → live local id (None: not imported), prefetched per P2 chunk.
    locals: dict[int, int | None] = field(default_factory=dict)
    # Local contact id → its Monica per-contact misc counts, staged with the next step so the
    # misc phase's shortfall re-fetch can compare them (importer.md §8; kept by `complete`).
    misc_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # (account id, generation, a bare transaction): when set, a step holds the generation
    # fence itself, in the statement that refreshes the lease (`imports.fenced_beat`), instead
    # of `unit_of_work`'s separate SELECT … FOR SHARE. Same lock, same refusal.
    fenced_step: tuple[int, int, UnitOfWork] | None = None
    # Refreshes import_records' statistics as the import grows; None in tests of one phase.
    statistics: PlannerStatistics | None = None
    # What the requests being made are for (`use`): listing, relisting, direct, per_contact.
    purpose: str = "listing"
    _charged: int = 0  # this client's requests already added to `requests_by_phase`
    # Requests a phase will make in all, once a list's first page told it (`expect`).
    expected: dict[str, int] = field(default_factory=dict)
    _base_requests: int = 0
    _base_wait: float = 0.0
    _base_duration: float = 0.0
    _started: float = field(default_factory=time.monotonic)
    _last_progress: float = 0.0

    def __post_init__(self) -> None:
        if self.row.summary:
            merged = empty_summary()
            merged.update(self.row.summary)
            self.summary = merged
        self.checkpoint = dict(self.row.checkpoint or {})
        self._base_requests = int(self.summary.get("requests", 0))
        self._base_wait = float(self.summary.get("rate_limit_wait_seconds", 0.0))
        self._base_duration = float(self.summary.get("duration_seconds", 0.0))

    # --- steps ---------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def step(self) -> AsyncIterator[AsyncSession]:
        """One checkpointed transaction (see module docstring)."""
        self.use(self.purpose)  # requests before the step belong to the phase it commits for
        async with self._begin_step() as (session, status):
            if status is None:
                raise LeaseLost
            if status == "cancelling":
                raise CancelSeen
            yield session
            await self._stage_misc_counts(session)
            self._refresh_totals()
            await imports.save_progress(
                session, self.row.id, summary=self.summary, checkpoint=self.checkpoint
            )

    @contextlib.asynccontextmanager
    async def _begin_step(self) -> AsyncIterator[tuple[AsyncSession, str | None]]:
        """A step's transaction, fenced, its lease refreshed; the crawl's status read there.

        With `fenced_step` the fence and the lease share one statement; otherwise the bus's
        unit of work holds the fence and the lease is refreshed after it.
        """
        if self.fenced_step is None:
            async with self.unit_of_work() as session:
                yield session, await imports.beat(session, self.row.id, self.owner)
            return
        account_id, generation, begin = self.fenced_step
        async with begin() as session:
            status = await imports.fenced_beat(
                session, self.row.id, self.owner, account_id=account_id, generation=generation
            )
            yield session, status

    async def _stage_misc_counts(self, session: AsyncSession) -> None:
        if not self.misc_counts:
            return
        await queries.stage_many(
            session,
            account_id=self.scope.account_id,
            import_id=self.row.id,
            kind=STATS_KIND,
            payloads=self.misc_counts,
        )
        self.misc_counts = {}

    def use(self, purpose: str) -> None:
        """Charge the requests made so far to the current purpose, then switch to `purpose`.

        `summary.requests_by_phase` (phase → purpose → requests, retries included) shows a
        user and the benchmark where the requests went; it commits with every step, like the
        other counters, so a resume neither loses nor double-counts what was committed.
        """
        spent = self.client.stats.requests - self._charged
        if spent > 0:
            by_phase: dict[str, dict[str, int]] = self.summary.setdefault("requests_by_phase", {})
            by_purpose = by_phase.setdefault(self.phase, {})
            by_purpose[self.purpose] = by_purpose.get(self.purpose, 0) + spent
            self._charged += spent
        self.purpose = purpose

    def _refresh_totals(self) -> None:
        self.use(self.purpose)
        stats = self.client.stats
        self.summary["requests"] = self._base_requests + stats.requests
        self.summary["rate_limit_wait_seconds"] = round(
            self._base_wait + stats.rate_limit_wait_seconds, 3
        )
        self.summary["duration_seconds"] = round(
            self._base_duration + time.monotonic() - self._started, 3
        )
        self.summary["imported"] = self.summary["contacts"]

    def error(self, message: str) -> None:
        self.summary["error_count"] += 1
        if len(self.summary["errors"]) < MAX_ERRORS:
            self.summary["errors"].append(message.replace("\x00", "")[:500])

    def count(self, outcome: Outcome) -> None:
        for message in outcome.errors:
            self.error(message)
        if outcome.skipped:
            self.summary["skipped"] += 1
        elif outcome.created or outcome.updated:
            self.summary["contacts"] += 1
            self.summary["created" if outcome.created else "updated"] += 1
            self._keep_misc_counts(outcome)

    def _keep_misc_counts(self, outcome: Outcome) -> None:
        """Buffer the contact's `statistics` counts the misc phase may need (§8 Shortfall)."""
        if self.row.misc_status != "pending" or outcome.local_id is None:
            return
        counts = counts_of(as_dict(outcome.deferred.get("statistics")), self.options)
        if counts:
            key = str(outcome.local_id)
            merged = self.misc_counts.setdefault(key, {})
            for option, n in counts.items():  # two Monica ids on one contact add up
                merged[option] = merged.get(option, 0) + n

    @property
    def phase(self) -> ImportPhase:
        value = self.checkpoint.get("phase", "reference_data")
        return value if value in PHASES else "reference_data"  # type: ignore[return-value]

    def expect(self, phase: ImportPhase, requests: int) -> None:
        """What `phase` will cost in all, once known (a list's first page tells its pages)."""
        self.expected[phase] = requests

    def estimate(self) -> tuple[int, int, float | None]:
        """(requests done, requests expected in all, seconds left at the limiter's rate).

        A phase not reached yet counts its guess (the listing one page, the notes as many
        pages as the listing); the running one at least what it already spent.
        """
        self._refresh_totals()
        done = int(self.summary["requests"])
        spent = self.summary.get("requests_by_phase", {})
        listing = self.expected.get("listing", 1)
        guesses: dict[str, int] = {
            "reference_data": len(REFERENCE_LISTS),
            "listing": listing,
            "notes": listing if self.options.notes else 0,
        }
        current = PHASES.index(self.phase)
        left = 0
        for index, phase in enumerate(PHASES):
            if index < current:
                continue
            want = self.expected.get(phase, guesses.get(phase, 0))
            left += max(0, want - sum(spent.get(phase, {}).values()))
        limiter = self.client.limiter
        rate = limiter.interval if limiter is not None and limiter.enabled else None
        return done, done + left, None if rate is None else round(left * rate, 1)

    async def progress(
        self, session: AsyncSession, current: int, total: int | None, *, force: bool = False
    ) -> None:
        """`kith.evt.import.progress`: at phase edges (force) and at most every 2 s.

        The same numbers go to `summary.progress` with the step, for `GET /v1/imports/{id}`.
        """
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_INTERVAL:
            return
        self._last_progress = now
        if total is not None:
            current = min(current, total)  # a partial or a duplicate never shows "941 / 910"
        done, estimated, eta = self.estimate()
        event = ImportProgress(
            import_id=self.row.id,
            phase=self.phase,
            current=current,
            total=total,
            requests_done=done,
            requests_estimated=estimated,
            eta_seconds=eta,
        )
        self.summary["progress"] = event.model_dump(mode="json", exclude={"import_id"})
        await self.publish(subjects.IMPORT_PROGRESS, event, session)

    async def enter(self, phase: ImportPhase, **extra: Any) -> None:
        """Checkpoint the start of `phase` (its progress event included)."""
        self.use("listing")  # what the previous phase spent is its own
        self.checkpoint = {"phase": phase, **extra}
        async with self.step() as session:
            await self.progress(session, 0, None, force=True)

    # --- outcomes ------------------------------------------------------------------------------

    def counts(self) -> ImportCounts:
        self._refresh_totals()
        data = {k: v for k, v in self.summary.items() if k in ImportCounts.model_fields}
        return ImportCounts.model_validate(data)

    async def complete(self) -> None:
        async with self.step() as session:
            keep = ("refmap", STATS_KIND) if self.row.misc_status == "pending" else ()
            await queries.drop_staging(session, self.row.id, keep=keep)
            self.checkpoint = {"phase": "cross_references", "done": True}
            self._refresh_totals()
            await imports.move(
                session,
                self.row.id,
                "status",
                "completed",
                only_from=("processing",),
                summary=self.summary,
                checkpoint=self.checkpoint,
            )
            await self.progress(session, 1, 1, force=True)
            await self.publish(
                subjects.IMPORT_COMPLETED,
                ImportCompleted(
                    import_id=self.row.id,
                    source="monica_api",
                    options=self.options,
                    counts=self.counts(),
                ),
                session,
            )
        log.info("import_completed", contacts=self.summary["contacts"])
        metrics.import_ended("monica_api", "completed")

    async def cancelled(self) -> None:
        """Stop on `cancelling`: cancelled (never completed), counts kept, event published."""
        async with self.unit_of_work() as session:
            self._refresh_totals()
            row = await imports.move(
                session,
                self.row.id,
                "status",
                "cancelled",
                only_from=("cancelling",),
                summary=self.summary,
                cancel_pending_follow_ups=True,
            )
            if row is None:
                return
            await queries.drop_staging(session, self.row.id)
            await self.publish(
                subjects.IMPORT_CANCELLED,
                ImportCancelled(
                    import_id=self.row.id,
                    reason="account_reset" if row.cancel_reason == "account_reset" else "user",
                    cancelled_in_phase=self.phase,
                    counts=self.counts(),
                ),
                session,
            )
        log.info("import_cancelled", phase=self.phase)
        metrics.import_ended("monica_api", "cancelled")

    async def failed(self, reason: str) -> None:
        """Fail the crawl: error kept, follow-ups cancelled, key wiped, event published."""
        async with self.unit_of_work() as session:
            self.error(reason)
            self._refresh_totals()
            row = await imports.move(
                session,
                self.row.id,
                "status",
                "failed",
                only_from=("pending", "processing"),
                error=reason,
                summary=self.summary,
                cancel_pending_follow_ups=True,
            )
            if row is None:
                return
            await queries.drop_staging(session, self.row.id)
            await self.publish(
                subjects.IMPORT_FAILED,
                ImportFailed(import_id=self.row.id, phase=self.phase, reason=reason),
                session,
            )
        log.warning("import_failed", phase=self.phase, reason=reason)
        metrics.import_ended("monica_api", "failed")


def fatal_listing_error(err: MonicaError) -> bool:
    """importer.md §10: fatal at once, whatever the delivery count."""
    return not err.transient


__all__ += ["FatalImport", "empty_summary", "fatal_listing_error"]
