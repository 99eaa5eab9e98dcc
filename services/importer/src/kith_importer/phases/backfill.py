"""P1.4 coverage backfill (importer.md §7.4, API §11.1): find the contacts the listing dropped.

Gap = T − |L|, T being the listing's `meta.total` (active, non-partial, default-book contacts)
and L the distinct listed ids. Only an active full contact closes the gap (`found_full`), so a
partial can never make it look closed. The candidates, in order:

A. ids referenced by what was imported (relationships, first_met_through, pending notes, and
   the references of contacts backfilled so far): partials are created from their ContactShort
   and inactive ones skipped, both without a request;
B. each torn tie group of the listing trace re-listed in one window that holds it whole
   (`kith_common.monica.relisting`: the arithmetic and why it works), `with=contactfields`,
   so recovered contacts arrive complete;
C. a group no single window holds (larger than a page) read through a bounded number of other
   windows until every position is accounted for;
A'. then the referenced ids that still look full and active: a direct GET each, while the gap
   is open (a dropped contact is usually in a torn group, so B brought it for free);
D. last, for a torn group still short, direct GETs of the unlisted ids inside the id span of
   its seen members. Never a walk of the account's id range: on a hosted Monica ids are shared
   by every tenant and such a walk is unbounded.

What is still missing is the honest `unresolved_gap`, with the torn groups' `created_at` in
`unresolved_created_at` so a user can find those contacts in Monica. When the positions the
listing filled disagree with `meta.total`, the backfill trusts the positions and records both.

Each window and each direct GET is recorded in staging (`tried`) with its effects, in the same
transaction, so a resume neither repeats a completed window's effects nor double-counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.monica.errors import MonicaError
from kith_common.monica.relisting import (
    TieGroup,
    Window,
    positions,
    relisting_plan,
    tie_groups,
    trace_rows,
)
from kith_importer import metrics, queries
from kith_importer.contacts import plan_contacts
from kith_importer.crawl import CHUNK, Crawl
from kith_importer.parsing import as_dict, as_int
from kith_importer.phases.reference_data import refmap_of
from kith_importer.writes import StepWrite

__all__ = ["Backfill", "run"]

log = structlog.get_logger(__name__)
MAX_CREATED_AT: Final = 50  # torn groups' created_at kept in the summary


async def run(crawl: Crawl) -> None:
    await Backfill(crawl).run()
    crawl.checkpoint = {"phase": "auto_merge"}


@dataclass
class Backfill:
    """One delivery's backfill. The references and the ids already tried or seen are read
    once and then kept in memory: this worker holds the lease, so only its own steps add to
    them (a backfilled contact's references are added as it is imported)."""

    crawl: Crawl
    _refs: dict[int, dict[str, Any]] = field(default_factory=dict)
    _skip: set[str] = field(default_factory=set)
    # created_at → distinct ids seen with it (listed or recovered), for a group's completeness
    _members: dict[str, set[int]] = field(default_factory=dict)
    _requests_before: int = 0

    @property
    def counts(self) -> dict[str, Any]:
        counts: dict[str, Any] = self.crawl.summary["coverage_backfill"]
        return counts

    async def run(self) -> None:
        crawl = self.crawl
        cp = crawl.checkpoint
        self._requests_before = crawl.client.stats.requests - int(cp.get("requests_done", 0))
        async with crawl.unit_of_work() as session:
            seen = await queries.staged(session, crawl.row.id, "seen")
            tried = await queries.staged_keys(session, crawl.row.id, "tried")
            for payload in (await queries.staged(session, crawl.row.id, "deferred")).values():
                self._add_references(payload)
            notes = await queries.staged(session, crawl.row.id, "pending_note")
            pages = await queries.staged(session, crawl.row.id, "page")
        for payload in notes.values():
            short = as_dict(payload.get("contact"))
            if as_int(short.get("id")) is not None:
                self._refs.setdefault(int(short["id"]), short)
        self._skip = tried | set(seen)
        for key, payload in seen.items():
            stamp = payload.get("created_at")
            if isinstance(stamp, str) and payload.get("full", True):
                self._members.setdefault(stamp, set()).add(int(key))
        rows, listed_total = trace_rows(pages)
        if "total" not in cp:
            if listed_total is None:  # a trace from before the listing kept its total
                crawl.use("listing")
                try:
                    probe = await crawl.client.page(
                        "/contacts", page=1, limit=1, endpoint="/contacts"
                    )
                except MonicaError as err:
                    if err.transient:
                        raise
                    crawl.error(f"Coverage backfill skipped: {err.message}")
                    return
                listed_total = probe.total
            cp.update(stage="gap", total=listed_total)
        total = int(cp["total"])
        groups = tie_groups(rows)
        listed = {int(k) for k, v in seen.items() if v.get("via") == "listing"}
        gap = total - len(listed)
        self._describe(gap, total, groups)
        plan = relisting_plan(groups)
        crawl.expect("coverage_backfill", sum(len(windows) for _, windows in plan))
        await self._referenced()
        for group, windows in plan:
            await self._relist(group, windows)
        if gap > 0:
            await self._drain_references(gap)
        torn = [g for g in groups if g.torn]
        for group in torn:
            await self._span(group)
        still = [g.key for g in torn if not self._complete(g) and g.key is not None]
        self.counts["unresolved_created_at"] = still[:MAX_CREATED_AT]
        self.counts["unresolved_gap"] = max(0, gap - int(cp.get("found_full", 0)))
        self.counts["requests"] = crawl.client.stats.requests - self._requests_before
        metrics.backfill_finished(self.counts)
        if self.counts["unresolved_gap"] > 0:
            log.warning(
                "coverage_gap_unresolved",
                unresolved=self.counts["unresolved_gap"],
                gap=gap,
                torn_groups_short=len(still),
            )

    def _describe(self, gap: int, total: int, groups: list[TieGroup]) -> None:
        """The gap, the torn groups, and the positions against `meta.total`."""
        counts = self.counts
        counts["gap_detected"] = max(0, gap)
        counts["torn_groups"] = sum(1 for g in groups if g.torn)
        counts["listing_positions"] = positions(groups)
        counts["listing_total"] = total
        if positions(groups) != total:
            # API §11.1 says they agree; when they do not (rows hidden from every query, or
            # Monica edited mid-crawl) the positions are what the arithmetic can trust.
            log.warning("listing_total_disagrees", positions=positions(groups), meta_total=total)

    # --- A: references -----------------------------------------------------------------------

    def _add_references(self, deferred: dict[str, Any]) -> None:
        """The ContactShorts a contact's deferred part names (first met through, relations)."""
        through = as_dict(deferred.get("first_met_through"))
        if as_int(through.get("id")) is not None:
            self._refs.setdefault(int(through["id"]), through)
        for relation in deferred.get("relationships", []):
            short = as_dict(relation.get("contact"))
            if as_int(short.get("id")) is not None:
                self._refs.setdefault(int(short["id"]), short)

    def _untried(self) -> list[int]:
        return [m for m in sorted(self._refs) if str(m) not in self._skip]

    async def _referenced(self) -> None:
        """Partials and inactive references cost no request; do them whatever the gap."""
        crawl = self.crawl
        todo = [
            self._refs[mid]
            for mid in self._untried()
            if self._refs[mid].get("is_partial") is True
            or self._refs[mid].get("is_active") is False
        ]
        for start in range(0, len(todo), CHUNK):
            async with crawl.step() as session:
                refmap = await refmap_of(crawl, session)
                write = StepWrite()
                partials: list[dict[str, Any]] = []
                for short in todo[start : start + CHUNK]:
                    mid = int(short["id"])
                    if short.get("is_partial") is True:
                        partials.append({**short, "is_partial": True})
                        self.counts["imported_partial"] += 1
                        self._trace(write, mid, {"via": "backfill", "full": False}, {})
                    else:
                        self.counts["skipped_inactive"] += 1
                    self._tried(write, str(mid))
                planned = await plan_contacts(session, crawl.scope, refmap, partials, write)
                await planned.execute(session, crawl.scope)
                for outcome in planned.outcomes:
                    crawl.count(outcome)
                self._checkpoint()

    async def _drain_references(self, gap: int) -> None:
        """A': referenced ids that look full and active, until none is left or the gap closes."""
        while not self._done(gap):
            todo = [m for m in self._untried() if self._refs[m].get("is_partial") is not True]
            if not todo:
                return
            for mid in todo:
                if self._done(gap):
                    return
                if await self._try(mid):
                    await self._referenced()  # its own partial and inactive references

    # --- B and C: re-listing -------------------------------------------------------------------

    def _complete(self, group: TieGroup) -> bool:
        return len(self._members.get(group.key or "", set())) >= group.size - group.unnamed

    async def _relist(self, group: TieGroup, windows: list[Window]) -> None:
        """Ask for the group's windows in order until every position is accounted for."""
        for window in windows:
            if self._complete(group):
                return
            await self._window(window)

    async def _window(self, window: Window) -> None:
        """One re-listing request; its unseen rows imported ≤ 10 a step, the window recorded
        as tried with the last of them (a resume re-asks an unfinished window only)."""
        crawl = self.crawl
        key = f"window:{window.limit}:{window.page}"
        if key in self._skip:
            return
        crawl.use("relisting")
        try:
            result = await crawl.client.page(
                "/contacts",
                page=window.page,
                limit=window.limit,
                params={"with": "contactfields"},
                endpoint="/contacts",
            )
            rows, failure = [as_dict(r) for r in result.data], None
        except MonicaError as err:
            if err.transient:
                raise  # retries spent: the redelivery resumes here
            rows, failure = [], err.message
        fresh: dict[int, dict[str, Any]] = {}  # unseen rows by id, each once
        for row in rows:
            mid = as_int(row.get("id"))
            if mid is not None and str(mid) not in self._skip:
                fresh.setdefault(mid, row)
        unseen = list(fresh.values())
        chunks = [unseen[i : i + CHUNK] for i in range(0, len(unseen), CHUNK)] or [[]]
        for index, chunk in enumerate(chunks):
            async with crawl.step() as session:
                write = StepWrite()
                if chunk:
                    await self._import(session, write, chunk, via="relisting")
                else:
                    await self._flush(session, write)
                if index == len(chunks) - 1:
                    await self._finish_window(session, key, failure, window)
                self._checkpoint()

    async def _finish_window(
        self, session: AsyncSession, key: str, failure: str | None, window: Window
    ) -> None:
        crawl = self.crawl
        self.counts["relisted"] = int(self.counts.get("relisted", 0)) + 1
        if failure is not None:
            self.counts["errors"] += 1
            crawl.error(
                f"Coverage backfill: re-listing contacts at limit {window.limit} page "
                f"{window.page}: {failure}"
            )
        write = StepWrite()
        self._tried(write, key)
        await self._flush(session, write)

    # --- D: the torn group's id span -----------------------------------------------------------

    def _span_ids(self, group: TieGroup) -> Iterator[int]:
        members = self._members.get(group.key or "", set()) | set(group.ids)
        if not members:
            return
        for mid in range(min(members), max(members) + 1):
            if str(mid) not in self._skip:
                yield mid

    async def _span(self, group: TieGroup) -> None:
        """D: direct GETs inside the span of the group's seen ids until it is whole."""
        for mid in self._span_ids(group):
            if self._complete(group):
                return
            await self._try(mid)

    # --- direct GETs -------------------------------------------------------------------------

    def _checkpoint(self) -> None:
        cp = self.crawl.checkpoint
        cp["phase"] = "coverage_backfill"
        cp["started"] = True
        cp["requests_done"] = self.crawl.client.stats.requests - self._requests_before
        self.counts["requests"] = cp["requests_done"]

    def _tried(self, write: StepWrite, key: str) -> None:
        self._skip.add(key)
        write.stage("tried", key, {})

    def _trace(
        self, write: StepWrite, mid: int, payload: dict[str, Any], deferred: dict[str, Any]
    ) -> None:
        self._skip.add(str(mid))
        write.stage("seen", str(mid), payload)
        stamp = payload.get("created_at")
        if isinstance(stamp, str) and payload.get("full"):
            self._members.setdefault(stamp, set()).add(mid)
        if deferred:
            write.stage("deferred", str(mid), deferred)
            self._add_references(deferred)

    def _done(self, gap: int) -> bool:
        return int(self.crawl.checkpoint.get("found_full", 0)) >= gap

    async def _try(self, mid: int) -> bool:
        """One direct GET and its effects in one step; True when it imported a full contact."""
        crawl = self.crawl
        if str(mid) in self._skip:
            return False
        crawl.use("direct")
        try:
            data = await crawl.client.contact(mid)
            failure = None
        except MonicaError as err:
            if err.transient:
                raise
            data, failure = None, err.message
        before = int(crawl.checkpoint.get("found_full", 0))
        async with crawl.step() as session:
            self.counts["range_scanned"] += 1
            write = StepWrite()
            self._tried(write, str(mid))
            if failure is not None:
                self.counts["errors"] += 1
                crawl.error(f"Coverage backfill of contact {mid}: {failure}")
            elif data is None:
                self.counts["skipped_deleted"] += 1
            elif data.get("is_active") is False:
                self.counts["skipped_inactive"] += 1
            else:
                await self._import(session, write, [data], via="backfill")
                write = StepWrite()
            await self._flush(session, write)
            self._checkpoint()
        return int(crawl.checkpoint.get("found_full", 0)) > before

    async def _import(
        self, session: AsyncSession, write: StepWrite, batch: list[dict[str, Any]], *, via: str
    ) -> None:
        """Active contacts (from a window or a direct GET) imported as in P1, their deferred
        references kept; a full one closes one unit of the gap."""
        crawl = self.crawl
        refmap = await refmap_of(crawl, session)
        planned = await plan_contacts(session, crawl.scope, refmap, batch, write)
        for data, outcome in zip(batch, planned.outcomes, strict=True):
            mid = int(data["id"])
            full = data.get("is_partial") is not True
            trace = {"via": via, "full": full, "created_at": data.get("created_at")}
            self._trace(write, mid, trace, outcome.deferred)
            if full:
                self.counts["imported_full"] += 1
                crawl.checkpoint["found_full"] = int(crawl.checkpoint.get("found_full", 0)) + 1
            else:
                self.counts["imported_partial"] += 1
        await planned.execute(session, crawl.scope)
        for outcome in planned.outcomes:
            crawl.count(outcome)

    async def _flush(self, session: AsyncSession, write: StepWrite) -> None:
        scope = self.crawl.scope
        await write.execute(
            session, account_id=scope.account_id, import_id=scope.import_id, source=scope.source
        )
