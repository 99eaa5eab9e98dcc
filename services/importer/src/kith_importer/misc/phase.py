"""Running the misc-data phase of one completed import (importer.md §8, §10, §11).

Each enabled type pages its account-wide endpoint at limit=100 (⌈items/100⌉ requests per type,
not the original's per-contact calls), keeping each page's ids and sort values (the trace).
When a type's distinct ids stay below `meta.total`, its torn tie groups are re-listed first
(importer.md §7.4 B/C, `kith_common.monica.relisting`: one window a group when it fits a page);
only if it is still short are the re-fetchable types fetched again per contact, for the
contacts whose Monica count exceeds what was imported (`shortfall`); what is still missing
goes to `summary.misc.missing`. `summary.misc.requests_by_phase.misc` counts the requests by
purpose (listing, relisting, per_contact).

After every page one fenced transaction writes the items, the checkpoint (type, page, seen ids,
the trace, the windows or contacts left, counters) and `summary.misc`, and re-reads the
status: `cancelling` ends the phase as `cancelled`; a reset makes the fence abort with no effect; a
checkpoint owned by another process (it took over) stops this one before it writes. Who runs
the phase is decided by an advisory lock (`lease`). The client shares the crawl's rate-limit
bucket (same host and key), so both together stay within Monica's limit.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import imports
from kith_common.bus.subscribe import MessageContext
from kith_common.errors import Transient
from kith_common.events import subjects
from kith_common.events.payloads.imports import (
    ImportCancelled,
    ImportCompleted,
    ImportFailed,
    ImportMiscCompleted,
    ImportOptions,
    ImportProgress,
    MiscCounts,
)
from kith_common.monica.client import MonicaClient
from kith_common.monica.errors import (
    MonicaAuthError,
    MonicaBadResponse,
    MonicaError,
    MonicaNotJson,
    MonicaRefused,
    MonicaRetryLater,
)
from kith_common.monica.relisting import planned_windows, trace_page
from kith_common.monica.urls import source_name
from kith_importer.config import ImporterConfig
from kith_importer.misc import queries
from kith_importer.misc.apply import MiscScope, Tally, apply_page
from kith_importer.misc.lease import PhaseLock
from kith_importer.misc.mappers import MISC_TYPES, MiscType
from kith_importer.misc.shortfall import short_contacts
from kith_importer.monica import open_client
from kith_importer.parsing import as_dict

__all__ = ["PAGE_LIMIT", "PROGRESS_INTERVAL", "run_misc"]

log = structlog.get_logger(__name__)
PAGE_LIMIT: Final = 100
PROGRESS_INTERVAL: Final = 2.0


class _Stop(Exception):  # control flow: the phase ended (or was taken over) in a transaction
    pass


async def run_misc(
    ctx: MessageContext[ImportCompleted],
    config: ImporterConfig,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    import_id = ctx.data.import_id
    with structlog.contextvars.bound_contextvars(import_id=import_id, phase="misc"):
        lock = PhaseLock(sessions.kw["bind"], import_id)
        if not await lock.acquire():
            await _busy(ctx)
            return
        try:
            await _run_locked(ctx, config, sessions)
        finally:
            await lock.release()


async def _busy(ctx: MessageContext[ImportCompleted]) -> None:
    """Another live process holds the phase: retry later unless there is nothing left to do."""
    async with ctx.unit_of_work() as session:
        row = await queries.misc_status(session, ctx.data.import_id)
    if row is not None and row.misc_status in ("pending", "processing", "cancelling"):
        msg = f"import {row.id}: the misc phase runs in another process"
        raise Transient(msg)


async def _run_locked(
    ctx: MessageContext[ImportCompleted],
    config: ImporterConfig,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    claim = await _claim(ctx, config)
    if claim is None:
        return
    row, checkpoint, scope, options = claim
    api_key = imports.decrypt_api_key(row, config.decryption_keys) if row.api_url else None
    if api_key is None or not row.api_url:
        await _fail(ctx, scope.import_id, "the Monica API key is no longer stored")
        return
    client = open_client(config, sessions, row.api_url, api_key)
    try:
        await _Phase(ctx, config, client, scope, options, checkpoint).run()
    except _Stop:
        pass
    finally:
        await client.aclose()


async def _claim(
    ctx: MessageContext[ImportCompleted], config: ImporterConfig
) -> tuple[Any, dict[str, Any], MiscScope, ImportOptions] | None:
    """pending → processing (or resume); None when there is nothing for this delivery to do.

    The caller holds the phase lock, so a recorded owner other than this process is dead (or
    has stopped): its checkpoint is taken over at once.
    """
    async with ctx.unit_of_work() as session:
        row = await queries.misc_status(session, ctx.data.import_id)
        if row is None or row.account_id != ctx.envelope.account_id:
            return None
        if row.source != "monica_api" or row.status != "completed":
            return None
        if row.misc_status == "cancelling":
            await _cancel(ctx, session, row, Tally())
            return None
        if row.misc_status not in ("pending", "processing"):
            return None  # not asked for, or already final (a redelivery)
        checkpoint = dict(await queries.read_checkpoint(session, row.id) or {})
        if row.misc_status == "pending":
            await imports.move(session, row.id, "misc_status", "processing", only_from=("pending",))
            checkpoint = {"type": 0, "page": 1, "tally": {}, "seen": []}
        elif checkpoint.get("owner") not in (None, config.owner):
            log.info("import_misc_taken_over", previous_owner=checkpoint.get("owner"))
        checkpoint.update(owner=config.owner, lease_at=time.time())
        await queries.write_checkpoint(
            session, account_id=row.account_id, import_id=row.id, payload=checkpoint
        )
        scope = MiscScope(
            account_id=row.account_id,
            import_id=row.id,
            user_id=row.user_id,
            source=source_name(row.api_url or ""),
            timezone=await queries.account_timezone(session, row.account_id),
            today=dt.date.today(),
        )
        options = ImportOptions.model_validate(row.options or {})
        return row, checkpoint, scope, options


@dataclass
class _Position:
    """Where a page leaves its type: the listing's page, the re-listing windows left, or the
    contacts left to re-fetch."""

    index: int
    mtype: MiscType
    page: int
    seen: set[int]
    total: int
    last: bool  # the list has no page after this one
    trace: dict[str, Any] = field(default_factory=dict)  # page → ids and sort values
    relist: list[list[Any]] | None = None  # None: not re-listing (yet); [limit, page, key, whole]
    found: dict[str, int] = field(default_factory=dict)  # tie key → distinct items seen
    short: list[int] | None = None  # None: not re-fetching (yet)
    sub: int = 1  # the page of short[0] to fetch next


class _Phase:
    """One delivery's run of the phase, from the checkpoint to the end."""

    def __init__(
        self,
        ctx: MessageContext[ImportCompleted],
        config: ImporterConfig,
        client: MonicaClient,
        scope: MiscScope,
        options: ImportOptions,
        checkpoint: dict[str, Any],
    ) -> None:
        self.ctx, self.config, self.client, self.scope = ctx, config, client, scope
        self.checkpoint = checkpoint
        self.tally = Tally(dict(checkpoint.get("tally") or {}))
        self.base_requests = int(self.tally.counts.get("requests", 0))
        self.base_wait = float(self.tally.counts.get("rate_limit_wait_seconds", 0.0))
        self.enabled = [i for i, t in enumerate(MISC_TYPES) if getattr(options, t.option)]
        self.last_progress = 0.0

    async def run(self) -> None:
        start = int(self.checkpoint["type"])
        await self.progress(sum(1 for i in self.enabled if i < start), force=True)
        for done, index in enumerate(self.enabled, start=1):
            if index < start:
                continue  # written by an earlier delivery (off types are not in the list)
            await self.run_type(index)
            await self.progress(done)
        await _complete(self.ctx, self.scope, self.tally, self.config.owner, len(self.enabled))

    # --- one type ------------------------------------------------------------------------------

    async def run_type(self, index: int) -> None:
        """The list, then its torn tie groups re-listed, then the per-contact fallback; each
        stage resumes from the checkpoint, and the last commit of one decides the next."""
        mtype = MISC_TYPES[index]
        cp = self.checkpoint
        if int(cp["type"]) != index:
            kept = {k: v for k, v in cp.items() if k in ("owner", "tally", "lease_at")}
            cp = self.checkpoint = {**kept, **_cursor(index, page=1, seen=set(), total=0)}
        seen: set[int] = set(cp.get("seen") or [])
        total = int(cp.get("total") or 0)
        if "relist" not in cp and "short" not in cp:
            trace: dict[str, Any] = dict(cp.get("trace") or {})
            await self.list_pages(index, mtype, int(cp["page"]), seen, total, trace)
        cp = self.checkpoint
        if int(cp["type"]) == index and "relist" in cp:
            await self.relist(index, mtype, cp)
        cp = self.checkpoint
        if int(cp["type"]) == index and "short" in cp:
            await self.refetch(
                index, mtype, list(cp["short"]), int(cp.get("sub") or 1), seen, int(cp["total"])
            )

    async def list_pages(
        self,
        index: int,
        mtype: MiscType,
        page: int,
        seen: set[int],
        total: int,
        trace: dict[str, Any],
    ) -> None:
        """The account-wide list from `page`, each page's trace kept for the re-listing."""
        while True:
            await self.ctx.heartbeat()
            result = await self.fetch(mtype, page)
            items: list[Any] = []
            last = True
            if result is not None:
                page_items, total, last_page = result
                trace[str(page)] = trace_page(page_items, total, _sort_column(mtype))
                # A row a tie drop shows on two pages is written (and counted) once.
                items = _unseen(page_items, seen)
                seen.update(_ids(items))
                last = page >= last_page or not page_items
            position = _Position(
                index, mtype, page=page, seen=seen, total=total, last=last, trace=trace
            )
            await self.commit(items, position)
            if last:
                return
            page += 1

    async def relist(self, index: int, mtype: MiscType, cp: dict[str, Any]) -> None:
        """Torn tie groups of the list read again (importer.md §7.4 B/C), one window a step."""
        seen: set[int] = set(cp.get("seen") or [])
        total = int(cp.get("total") or 0)
        windows: list[list[Any]] = list(cp["relist"])
        found: dict[str, int] = dict(cp.get("found") or {})
        column = _sort_column(mtype)
        while windows:
            limit, page, key, whole = windows.pop(0)
            items: list[Any] = []
            if found.get(key, 0) < whole and len(seen) < total:
                await self.ctx.heartbeat()
                result = await self.fetch(mtype, page, limit=limit)
                if result is not None:
                    items = _unseen(result[0], seen)
                    seen.update(_ids(items))
                    for item in items:
                        stamp = as_dict(item).get(column)
                        if isinstance(stamp, str):
                            found[stamp] = found.get(stamp, 0) + 1
            position = _Position(
                index, mtype, page=0, seen=seen, total=total, last=True, relist=windows
            )
            position.found = found
            await self.commit(items, position)

    async def refetch(
        self, index: int, mtype: MiscType, short: list[int], sub: int, seen: set[int], total: int
    ) -> None:
        """Per-contact pages of the short contacts, each page its own checkpoint."""
        if short:
            log.info("import_misc_shortfall", type=mtype.option, contacts=len(short))
        while short:
            await self.ctx.heartbeat()
            result = await self.fetch(mtype, sub, contact=short[0])
            items: list[Any] = []
            done = True
            if result is not None:
                page_items, _, last_page = result
                # Items the list already brought were written (and counted) then.
                items = _unseen(page_items, seen)
                seen.update(_ids(items))
                done = sub >= last_page or not page_items
            short, sub = (short[1:], 1) if done else (short, sub + 1)
            position = _Position(
                index, mtype, page=0, seen=seen, total=total, last=True, short=short, sub=sub
            )
            await self.commit(items, position)

    async def advance(self, session: AsyncSession, at: _Position) -> dict[str, Any]:
        """The checkpoint's next position, decided inside the page's transaction.

        At the end of a list short of `meta.total`, its torn tie groups are planned first (the
        re-listing); once those windows are spent and it is still short, the short contacts
        are computed there, with the page just written counted.
        """
        index, seen, total = at.index, at.seen, at.total
        if not at.last:
            return _cursor(index, page=at.page + 1, seen=seen, total=total, trace=at.trace)
        if at.relist is None and at.short is None and len(seen) < total:
            at.relist, at.found = planned_windows(at.trace)
        if at.relist:
            return _cursor(
                index, page=at.page, seen=seen, total=total, relist=at.relist, found=at.found
            )
        if at.short is None and at.mtype.per_contact and len(seen) < total:
            at.short = await short_contacts(session, self.scope, at.mtype)
        if at.short:
            return _cursor(index, page=at.page, seen=seen, total=total, short=at.short, sub=at.sub)
        return self.finish_type(at.index, at.mtype, at.seen, at.total)

    def finish_type(
        self, index: int, mtype: MiscType, seen: set[int], total: int
    ) -> dict[str, Any]:
        """Count what is still missing (importer.md §8) and point the cursor at the next type."""
        missing = self.tally.counts.setdefault("missing", {})
        if len(seen) < total:
            missing[mtype.option] = total - len(seen)
        else:
            missing.pop(mtype.option, None)
        return _cursor(index + 1, page=1, seen=set(), total=0)

    # --- requests and transactions -------------------------------------------------------------

    async def fetch(
        self, mtype: MiscType, page: int, *, contact: int | None = None, limit: int = PAGE_LIMIT
    ) -> tuple[list[Any], int, int] | None:
        """One page; a broken page is recorded and skipped (importer.md §13). Its requests
        (retries included) are charged to its purpose in `requests_by_phase`."""
        purpose = "per_contact" if contact else "relisting" if limit != PAGE_LIMIT else "listing"
        before = self.client.stats.requests
        try:
            return await self._fetch(mtype, page, contact=contact, limit=limit)
        finally:
            by_purpose = self.tally.counts.setdefault("requests_by_phase", {}).setdefault(
                "misc", {}
            )
            spent = self.client.stats.requests - before
            if spent:
                by_purpose[purpose] = int(by_purpose.get(purpose, 0)) + spent

    async def _fetch(
        self, mtype: MiscType, page: int, *, contact: int | None, limit: int
    ) -> tuple[list[Any], int, int] | None:
        path = mtype.endpoint if contact is None else f"/contacts/{contact}{mtype.endpoint}"
        endpoint = mtype.endpoint if contact is None else f"/contacts/{{id}}{mtype.endpoint}"
        where = f"GET /api{path} page {page}"
        if limit != PAGE_LIMIT:
            where += f" at limit {limit}"
        try:
            got = await self.client.page(path, page=page, limit=limit, endpoint=endpoint)
        except (MonicaAuthError, MonicaRefused) as err:
            await _fail(self.ctx, self.scope.import_id, err.message)
            raise _Stop from err
        except (MonicaBadResponse, MonicaNotJson) as err:
            self.tally.error(f"{where}: {err.message}")
            return None
        except MonicaError as err:
            # a contact deleted in Monica since, or a window this Monica refuses: skipped
            if (contact is not None or limit != PAGE_LIMIT) and not err.transient:
                self.tally.error(f"{where}: {err.message}")
                return None
            if self.ctx.deliveries >= self.config.max_deliver or isinstance(err, MonicaRetryLater):
                await _fail(self.ctx, self.scope.import_id, f"{where}: {err.message}")
                raise _Stop from err
            raise  # transient, retries spent: the redelivery resumes from the checkpoint
        return got.data, got.total, got.last_page

    async def commit(self, items: list[Any], at: _Position) -> None:
        """Write one page, the checkpoint and `summary.misc`, or stop (cancel, takeover)."""
        self.tally.counts["requests"] = self.base_requests + self.client.stats.requests
        self.tally.counts["rate_limit_wait_seconds"] = round(
            self.base_wait + self.client.stats.rate_limit_wait_seconds, 3
        )
        async with self.ctx.unit_of_work() as session:
            row = await _still_running(self.ctx, session, self.scope, self.tally, self.config.owner)
            if row is not None:
                await apply_page(session, self.scope, at.mtype, items, self.tally)
                self.checkpoint = {
                    "owner": self.config.owner,
                    **await self.advance(session, at),
                    "tally": self.tally.counts,
                    "lease_at": time.time(),
                }
                await queries.write_checkpoint(
                    session,
                    account_id=self.scope.account_id,
                    import_id=self.scope.import_id,
                    payload=self.checkpoint,
                )
                await queries.write_summary(session, row.id, _summary(self.tally, "processing"))
        if row is None:
            raise _Stop

    async def progress(self, done: int, *, force: bool = False) -> None:
        """`kith.evt.import.progress`: at the phase's start (force), then at most every 2 s."""
        now = time.monotonic()
        if not force and now - self.last_progress < PROGRESS_INTERVAL:
            return
        self.last_progress = now
        # Each type left costs at least its first page; the estimate firms up as they run.
        spent = self.base_requests + self.client.stats.requests
        left = len(self.enabled) - done
        limiter = self.client.limiter
        rate = limiter.interval if limiter is not None and limiter.enabled else None
        await _progress(
            self.ctx,
            self.scope.import_id,
            done,
            len(self.enabled),
            requests=(spent, spent + left, None if rate is None else round(left * rate, 1)),
        )


def _ids(items: list[Any]) -> set[int]:
    return {i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), int)}


def _unseen(items: list[Any], seen: set[int]) -> list[Any]:
    """The items not written yet (one without a usable id is kept: it is reported)."""
    return [i for i in items if not (isinstance(i, dict) and i.get("id") in seen)]


def _cursor(
    index: int,
    *,
    page: int,
    seen: set[int],
    total: int,
    trace: dict[str, Any] | None = None,
    relist: list[list[Any]] | None = None,
    found: dict[str, int] | None = None,
    short: list[int] | None = None,
    sub: int = 1,
) -> dict[str, Any]:
    """The checkpoint's position: type, page, seen ids and, while listing, the trace; while
    re-listing, the windows left; while re-fetching, the contacts."""
    cursor: dict[str, Any] = {"type": index, "page": page, "seen": sorted(seen), "total": total}
    if trace is not None:
        cursor["trace"] = trace
    if relist is not None:
        cursor.update(relist=relist, found=found or {})
    if short is not None:
        cursor.update(short=short, sub=sub)
    return cursor


def _sort_column(mtype: MiscType) -> str:
    """The column the list sorts by (API §3): calls by `called_at`, the rest `created_at`."""
    return "called_at" if mtype.option == "calls" else "created_at"


async def _still_running(
    ctx: MessageContext[ImportCompleted],
    session: AsyncSession,
    scope: MiscScope,
    tally: Tally,
    owner: str,
) -> Any:
    """The locked row while this process may go on; None once it must stop.

    A checkpoint owned by someone else means this process was taken over (it lost its lock
    connection): it stops without writing. `cancelling` is turned into `cancelled` here, in
    the caller's transaction, which then commits without writing the page (a stopped phase
    writes no domain rows).
    """
    row = await queries.misc_status(session, scope.import_id)
    if row is None:
        return None
    checkpoint = await queries.read_checkpoint(session, scope.import_id) or {}
    if checkpoint.get("owner") not in (None, owner):
        log.warning("import_misc_lease_lost", owner=checkpoint.get("owner"))
        return None
    if row.misc_status == "cancelling":
        await _cancel(ctx, session, row, tally)
        return None
    if row.misc_status != "processing":
        return None
    return row


async def _cancel(
    ctx: MessageContext[ImportCompleted], session: AsyncSession, row: Any, tally: Tally
) -> None:
    moved = await imports.move(
        session, row.id, "misc_status", "cancelled", only_from=("cancelling",)
    )
    if moved is None:
        return
    await queries.write_summary(session, row.id, _summary(tally, "cancelled"))
    if moved.media_status not in imports.ACTIVE:
        await queries.drop_misc_staging(session, row.id, keep_media=False)
    await ctx.publish(
        subjects.IMPORT_CANCELLED,
        ImportCancelled(
            import_id=row.id,
            reason=row.cancel_reason or "user",
            cancelled_in_phase="misc",
            misc=_counts(tally),
        ),
        session=session,
    )


async def _complete(
    ctx: MessageContext[ImportCompleted],
    scope: MiscScope,
    tally: Tally,
    owner: str,
    types: int,
) -> None:
    async with ctx.unit_of_work() as session:
        row = await _still_running(ctx, session, scope, tally, owner)
        if row is None:
            return
        moved = await imports.move(
            session, row.id, "misc_status", "completed", only_from=("processing",)
        )
        if moved is None:
            return
        await queries.write_summary(session, row.id, _summary(tally, "completed"))
        await queries.drop_misc_staging(
            session, row.id, keep_media=moved.media_status in imports.ACTIVE
        )
        await ctx.publish(
            subjects.IMPORT_MISC_COMPLETED,
            ImportMiscCompleted(import_id=row.id, misc=_counts(tally)),
            session=session,
        )
        spent = int(tally.counts.get("requests", 0))
        await _progress(ctx, row.id, types, types, session=session, requests=(spent, spent, 0.0))
    log.info("import_misc_completed", requests=tally.counts.get("requests", 0))


async def _fail(ctx: MessageContext[ImportCompleted], import_id: int, reason: str) -> None:
    async with ctx.unit_of_work() as session:
        moved = await imports.move(
            session,
            import_id,
            "misc_status",
            "failed",
            only_from=("pending", "processing"),
            error=reason,
        )
        if moved is None:
            return
        if moved.media_status not in imports.ACTIVE:
            await queries.drop_misc_staging(session, import_id, keep_media=False)
        await ctx.publish(
            subjects.IMPORT_FAILED,
            ImportFailed(import_id=import_id, phase="misc", reason=reason),
            session=session,
        )
    log.warning("import_misc_failed", reason=reason)


async def _progress(
    ctx: MessageContext[ImportCompleted],
    import_id: int,
    current: int,
    total: int,
    *,
    session: AsyncSession | None = None,
    requests: tuple[int, int, float | None] | None = None,
) -> None:
    """`requests`: (done, estimated in all, seconds left at the limiter's rate)."""
    done, estimated, eta = requests or (None, None, None)
    event = ImportProgress(
        import_id=import_id,
        phase="misc",
        current=current,
        total=total,
        requests_done=done,
        requests_estimated=estimated,
        eta_seconds=eta,
    )
    if session is not None:
        await ctx.publish(subjects.IMPORT_PROGRESS, event, session=session)
        return
    async with ctx.unit_of_work() as own:
        await ctx.publish(subjects.IMPORT_PROGRESS, event, session=own)


def _counts(tally: Tally) -> MiscCounts:
    data = {k: v for k, v in tally.counts.items() if k in MiscCounts.model_fields}
    return MiscCounts.model_validate(data)


def _summary(tally: Tally, status: str) -> dict[str, Any]:
    body = _counts(tally).model_dump(mode="json")
    body.update(status=status, errors=list(tally.counts.get("errors", [])))
    return body
