"""P1.4 coverage backfill (importer.md §7.4, API §11.1): find the contacts the listing dropped.

Gap = T − |L|, T being `meta.total` (active, non-partial, default-book contacts) and L the
distinct listed ids. Only an active full contact found by a direct GET closes the gap
(`found_full`), so a partial can never make it look closed. Candidates, each tried once:
A. ids referenced by what was imported (relationships, first_met_through, pending notes, and
   the references of contacts backfilled so far): partials are created from their ContactShort
   and inactive ones skipped, both without a request;
B. tie neighbourhoods: unlisted ids within ±10 of the listed rows sharing the `created_at` of a
   page boundary that looked torn (tied across it, or an id listed on both pages), nearest first;
C. the rest of [min(L), max(L) + 50], ascending.
Direct GETs stop as soon as `found_full ≥ gap`. Each try is recorded in staging with its
effects (in the same statement), so a resume neither repeats a GET's effects nor double-counts.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.monica.errors import MonicaError
from kith_importer import metrics, queries
from kith_importer.contacts import plan_contacts
from kith_importer.crawl import CHUNK, Crawl
from kith_importer.parsing import as_dict, as_int
from kith_importer.writes import StepWrite

__all__ = ["Backfill"]

log = structlog.get_logger(__name__)
NEIGHBOURHOOD = 10
RANGE_TAIL = 50


@dataclass
class Backfill:
    """One delivery's backfill. The references and the ids already tried or seen are read
    once and then kept in memory: this worker holds the lease, so only its own steps add to
    them (a backfilled contact's references are added as it is imported)."""

    crawl: Crawl
    refmap: Callable[[Crawl, AsyncSession], Awaitable[Any]]
    _refs: dict[int, dict[str, Any]] = field(default_factory=dict)
    _skip: set[str] = field(default_factory=set)
    _requests_before: int = 0

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = self.crawl.summary["coverage_backfill"]
        return counts

    async def run(self) -> None:
        crawl = self.crawl
        cp = crawl.checkpoint
        self._requests_before = crawl.client.stats.requests - int(cp.get("requests_done", 0))
        if "total" not in cp:
            try:
                probe = await crawl.client.page("/contacts", page=1, limit=1, endpoint="/contacts")
            except MonicaError as err:
                if err.transient:
                    raise
                crawl.error(f"Coverage backfill skipped: {err.message}")
                return
            cp.update(stage="gap", total=probe.total)
        total = int(cp["total"])
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
        listed = {int(k) for k, v in seen.items() if v.get("via") == "listing"}
        gap = total - len(listed)
        self.counts["gap_detected"] = max(0, gap)
        await self._referenced()
        if gap > 0:
            await self._direct(gap, listed, pages)
        self.counts["unresolved_gap"] = max(0, gap - int(cp.get("found_full", 0)))
        self.counts["requests"] = crawl.client.stats.requests - self._requests_before
        metrics.backfill_finished(self.counts)
        if self.counts["unresolved_gap"] > 0:
            log.warning(
                "coverage_gap_unresolved", unresolved=self.counts["unresolved_gap"], gap=gap
            )

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
                refmap = await self.refmap(crawl, session)
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
                    self._tried(write, mid)
                planned = await plan_contacts(session, crawl.scope, refmap, partials, write)
                await planned.execute(session, crawl.scope)
                for outcome in planned.outcomes:
                    crawl.count(outcome)
                self._checkpoint()

    # --- direct GETs -------------------------------------------------------------------------

    def _checkpoint(self) -> None:
        cp = self.crawl.checkpoint
        cp["phase"] = "coverage_backfill"
        cp["started"] = True
        cp["requests_done"] = self.crawl.client.stats.requests - self._requests_before
        self.counts["requests"] = cp["requests_done"]

    def _tried(self, write: StepWrite, mid: int) -> None:
        self._skip.add(str(mid))
        write.stage("tried", str(mid), {})

    def _trace(
        self, write: StepWrite, mid: int, payload: dict[str, Any], deferred: dict[str, Any]
    ) -> None:
        self._skip.add(str(mid))
        write.stage("seen", str(mid), payload)
        if deferred:
            write.stage("deferred", str(mid), deferred)
            self._add_references(deferred)

    def _done(self, gap: int) -> bool:
        return int(self.crawl.checkpoint.get("found_full", 0)) >= gap

    async def _direct(self, gap: int, listed: set[int], pages: dict[str, dict[str, Any]]) -> None:
        await self._drain_references(gap)
        for mid in self._candidates(listed, pages):
            if self._done(gap):
                return
            if await self._try(mid):
                # A backfilled contact's own references are candidates of kind A.
                await self._referenced()
                await self._drain_references(gap)

    async def _drain_references(self, gap: int) -> None:
        """A: referenced ids that look full and active, until none is left."""
        while not self._done(gap):
            todo = self._untried()
            if not todo:
                return
            for mid in todo:
                if self._done(gap):
                    return
                await self._try(mid)

    async def _try(self, mid: int) -> bool:
        """One direct GET and its effects in one step; True when it imported a full contact."""
        crawl = self.crawl
        if str(mid) in self._skip:
            return False
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
            self._tried(write, mid)
            await self._apply(session, write, mid, data, failure)
            self._checkpoint()
        return int(crawl.checkpoint.get("found_full", 0)) > before

    async def _apply(
        self,
        session: AsyncSession,
        write: StepWrite,
        mid: int,
        data: dict[str, Any] | None,
        failure: str | None,
    ) -> None:
        crawl = self.crawl
        if failure is not None:
            self.counts["errors"] += 1
            crawl.error(f"Coverage backfill of contact {mid}: {failure}")
        elif data is None:
            self.counts["skipped_deleted"] += 1
        elif data.get("is_active") is False:
            self.counts["skipped_inactive"] += 1
        else:
            refmap = await self.refmap(crawl, session)
            planned = await plan_contacts(session, crawl.scope, refmap, [data], write)
            [outcome] = planned.outcomes
            full = data.get("is_partial") is not True
            trace = {"via": "backfill", "full": full, "created_at": data.get("created_at")}
            self._trace(write, mid, trace, outcome.deferred)
            await planned.execute(session, crawl.scope)
            crawl.count(outcome)
            if full:
                self.counts["imported_full"] += 1
                crawl.checkpoint["found_full"] = int(crawl.checkpoint.get("found_full", 0)) + 1
            else:
                self.counts["imported_partial"] += 1
            return
        await write.execute(
            session,
            account_id=crawl.scope.account_id,
            import_id=crawl.scope.import_id,
            source=crawl.scope.source,
        )

    def _candidates(self, listed: set[int], pages: dict[str, dict[str, Any]]) -> Iterator[int]:
        """A (fresh references, re-read lazily), then B, then C; each id once."""
        yielded: set[int] = set()
        for mid in self._tie_neighbourhoods(listed, pages):
            if mid not in yielded:
                yielded.add(mid)
                yield mid
        if listed:
            for mid in range(min(listed), max(listed) + RANGE_TAIL + 1):
                if mid not in listed and mid not in yielded:
                    yielded.add(mid)
                    yield mid

    def _tie_neighbourhoods(self, listed: set[int], pages: dict[str, dict[str, Any]]) -> list[int]:
        ordered = [pages[k] for k in sorted(pages, key=int)]
        by_created: dict[Any, list[int]] = {}
        for page in ordered:
            for mid, created in zip(page.get("ids", []), page.get("created", []), strict=False):
                if mid is not None:
                    by_created.setdefault(created, []).append(int(mid))
        torn: list[Any] = []
        for before, after in itertools.pairwise(ordered):
            b_ids, a_ids = before.get("ids", []), after.get("ids", [])
            b_created, a_created = before.get("created", []), after.get("created", [])
            if b_created and a_created and b_created[-1] == a_created[0]:
                torn.append(b_created[-1])
            both = set(b_ids) & set(a_ids) - {None}
            for mid in both:
                idx = b_ids.index(mid)
                torn.append(b_created[idx] if idx < len(b_created) else None)
        result: list[int] = []
        for created in dict.fromkeys(torn):
            members = sorted(set(by_created.get(created, [])))
            if not members:
                continue
            window = range(min(members) - NEIGHBOURHOOD, max(members) + NEIGHBOURHOOD + 1)
            unlisted = [m for m in window if m > 0 and m not in listed]
            unlisted.sort(key=lambda m: (min(abs(m - x) for x in members), m))
            result.extend(unlisted)
        return result
