"""The crawl's phases, each resumable from `crawl.checkpoint` (importer.md §7.1–§7.6)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import (
    ImportRecord,
    Note,
    Relationship,
    RelationshipType,
)
from kith_common.monica.ahead import PagesAhead
from kith_common.monica.errors import MonicaError
from kith_importer import queries
from kith_importer.automerge import merge_groups, merge_pair
from kith_importer.backfill import Backfill
from kith_importer.contacts import plan_contacts
from kith_importer.crawl import CHUNK, ITEM_CHUNK, Crawl, FatalImport
from kith_importer.parsing import Problems, as_dict, as_int, as_text, parse_timestamp
from kith_importer.reference import ReferenceMap, prime
from kith_importer.writes import StepWrite

__all__ = ["run_phases"]

log = structlog.get_logger(__name__)
REFERENCE_ENDPOINTS = ("genders", "contactfieldtypes", "relationshiptypes", "tags")
# A pair touches two contacts: five pairs keep a merge step within §7.0's ten contacts. Each
# pair is still atomic on its own (a savepoint); only the step bookkeeping is shared.
PAIRS_PER_STEP = CHUNK // 2


async def run_phases(crawl: Crawl) -> None:
    """Run from the checkpoint's phase to the end."""
    order = [
        "reference_data",
        "listing",
        "notes",
        "coverage_backfill",
        "auto_merge",
        "cross_references",
    ]
    start = order.index(crawl.phase)
    for name in order[start:]:
        resuming = crawl.phase == name and bool(crawl.checkpoint.get("started"))
        if not resuming:
            await crawl.enter(name, started=True)  # type: ignore[arg-type]
        await _PHASES[name](crawl)
    await crawl.complete()


# --- P0 ------------------------------------------------------------------------------------------


async def reference_data(crawl: Crawl) -> None:
    # The four lists are independent: read together, a remote Monica's latency is paid once,
    # not four times (the shared rate limiter still spaces the requests). On failure the first
    # endpoint's error in this order is raised, as reading them one by one would.
    results = await asyncio.gather(
        *(_all_pages(crawl, f"/{endpoint}", fatal=True) for endpoint in REFERENCE_ENDPOINTS),
        return_exceptions=True,
    )
    pages: dict[str, list[Any]] = {}
    for endpoint, result in zip(REFERENCE_ENDPOINTS, results, strict=True):
        if isinstance(result, BaseException):
            raise result
        pages[endpoint] = result
    async with crawl.step() as session:
        refmap = ReferenceMap(crawl.scope.account_id)
        await prime(session, refmap, pages)
        await queries.stage(
            session,
            account_id=crawl.scope.account_id,
            import_id=crawl.row.id,
            kind="refmap",
            key="map",
            payload=refmap.dump(),
        )
        crawl.refmap = refmap
        crawl.checkpoint = {"phase": "listing"}


async def _all_pages(crawl: Crawl, path: str, *, fatal: bool) -> list[Any]:
    items: list[Any] = []
    page = 1
    while True:
        try:
            result = await crawl.client.page(path, page=page)
        except MonicaError as err:
            if err.transient:
                raise
            if fatal:
                raise FatalImport(err.message) from err
            crawl.error(err.message)
            return items
        items.extend(result.data)
        if page >= result.last_page or not result.data:
            return items
        page += 1


async def _refmap(crawl: Crawl, session: AsyncSession) -> ReferenceMap:
    if crawl.refmap is None:
        staged = await queries.staged(session, crawl.row.id, "refmap")
        crawl.refmap = ReferenceMap.load(crawl.scope.account_id, staged.get("map", {}))
    return crawl.refmap


# --- P1 listing ----------------------------------------------------------------------------------


async def listing(crawl: Crawl) -> None:
    page = int(crawl.checkpoint.get("page", 1))
    offset = int(crawl.checkpoint.get("offset", 0))
    total = crawl.checkpoint.get("total")
    # Ids already processed (duplicates across pages are processed once). Read once per
    # delivery: this worker holds the lease, so only its own steps add to it.
    seen: set[str] | None = None
    async with PagesAhead(
        lambda n: crawl.client.page(
            "/contacts", page=n, params={"with": "contactfields"}, endpoint="/contacts"
        )
    ) as pages:
        while True:
            try:
                result = await pages.get(page)
            except MonicaError as err:
                if err.transient:
                    raise
                raise FatalImport(err.message) from err
            if page < result.last_page and result.data:
                await pages.ahead(page + 1)
            if total is None:
                total = result.total
            rows = result.data
            trace = {
                "ids": [as_int(as_dict(r).get("id")) for r in rows],
                "created": [as_dict(r).get("created_at") for r in rows],
            }
            starts = list(range(offset, len(rows), CHUNK)) or [len(rows)]
            for start in starts:
                chunk = rows[start : start + CHUNK]
                async with crawl.step() as session:
                    if seen is None:
                        seen = await queries.staged_keys(session, crawl.row.id, "seen")
                    write = StepWrite()
                    if start == starts[0]:
                        write.stage("page", str(page), trace)
                    await _listing_chunk(crawl, session, write, seen, (page, start), chunk)
                    done = start + len(chunk)
                    crawl.checkpoint = {
                        "phase": "listing",
                        "started": True,
                        "page": page,
                        "offset": done,
                        "total": total,
                    }
                    await crawl.progress(session, crawl.summary["contacts"], total)
            if crawl.statistics is not None:
                crawl.statistics.grew_to(crawl.summary["contacts"])
            if page >= result.last_page or not rows:
                break
            page += 1
            offset = 0
    crawl.checkpoint = {"phase": "notes", "listing_total": total}


async def _listing_chunk(
    crawl: Crawl,
    session: AsyncSession,
    write: StepWrite,
    seen: set[str],
    at: tuple[int, int],
    chunk: list[Any],
) -> None:
    """≤ 10 listed contacts: three reads at most, then one write (`StepWrite`)."""
    page, start = at
    refmap = await _refmap(crawl, session)
    batch: list[dict[str, Any]] = []
    positions: list[int] = []
    for position, raw in enumerate(chunk, start=start):
        data = as_dict(raw)
        mid = as_int(data.get("id"))
        if mid is None:
            crawl.error(f"GET /api/contacts page {page}: row {position + 1} has no valid id")
            continue
        if str(mid) in seen:
            continue  # a duplicate id (tie drop, API §11.1) is processed once
        seen.add(str(mid))
        batch.append(data)
        positions.append(position)
    planned = await plan_contacts(session, crawl.scope, refmap, batch, write)
    for data, position, outcome in zip(batch, positions, planned.outcomes, strict=True):
        key = str(as_int(data.get("id")))
        write.stage(
            "seen",
            key,
            {
                "page": page,
                "position": position,
                "created_at": data.get("created_at"),
                "via": "listing",
                "full": True,
            },
        )
        if outcome.deferred:
            write.stage("deferred", key, outcome.deferred)
    await planned.execute(session, crawl.scope)
    for outcome in planned.outcomes:
        crawl.count(outcome)


# --- P1.2 notes ----------------------------------------------------------------------------------


async def notes(crawl: Crawl) -> None:
    if not crawl.options.notes:
        crawl.checkpoint = {"phase": "coverage_backfill"}
        return
    page = int(crawl.checkpoint.get("page", 1))
    total = crawl.checkpoint.get("total")
    async with PagesAhead(
        lambda n: crawl.client.page("/notes", page=n, endpoint="/notes")
    ) as pages:
        while True:
            try:
                result = await pages.get(page)
            except MonicaError as err:
                if err.transient:
                    raise
                crawl.error(f"{err.message}; notes page {page} skipped")
                break
            if page < result.last_page and result.data:
                await pages.ahead(page + 1)
            if total is None:
                total = result.total
            for start in range(0, len(result.data), ITEM_CHUNK) or [0]:
                async with crawl.step() as session:
                    await _notes_chunk(crawl, session, result.data[start : start + ITEM_CHUNK])
                    crawl.checkpoint = {
                        "phase": "notes",
                        "started": True,
                        "page": page + 1,
                        "total": total,
                    }
                    await crawl.progress(session, crawl.summary["notes"], total)
            if page >= result.last_page or not result.data:
                break
            page += 1
    await _notes_shortfall(crawl, total)
    crawl.checkpoint = {"phase": "coverage_backfill"}


async def _notes_chunk(crawl: Crawl, session: AsyncSession, raws: list[Any]) -> None:
    """One page chunk of notes with a fixed number of statements (importer.md §7.3).

    Each note: its contact resolved through import_records (merges followed); a soft-deleted
    contact → skipped; not mapped yet → staged for P2; the same trimmed body already on the
    contact → not created again (its mapping points at the existing note).
    """
    scope = crawl.scope
    notes: list[tuple[int, str, dict[str, Any], dict[str, Any], int | None]] = []
    for raw in raws:
        data = as_dict(raw)
        note_id = as_int(data.get("id"))
        body = as_text(data.get("body"), "body", Problems(), limit=100_000)
        if note_id is None or body is None:
            crawl.error(f"Note {data.get('id')}: no id or empty body, skipped")
            continue
        contact = as_dict(data.get("contact"))
        notes.append((note_id, body, data, contact, as_int(contact.get("id"))))
    if not notes:
        return
    ids = {"account_id": scope.account_id, "import_id": crawl.row.id}
    await queries.stage_many(
        session, kind="note_seen", payloads={str(n[0]): {} for n in notes}, **ids
    )
    known = await queries.mapped_many(
        session, scope.account_id, scope.source, "contact", {str(n[4]) for n in notes if n[4]}
    )
    contacts = await queries.contacts_by_id(session, scope.account_id, list(set(known.values())))
    done = await queries.mapped_many(
        session, scope.account_id, scope.source, "note", [str(n[0]) for n in notes]
    )
    bodies = await queries.note_bodies(session, scope.account_id, list(contacts))
    pending: dict[str, dict[str, Any]] = {}
    created: dict[tuple[int, str], Note] = {}
    records: list[tuple[str, tuple[int, str] | int]] = []
    for note_id, body, data, contact, cid in notes:
        row = contacts.get(known.get(str(cid), -1)) if cid is not None else None
        if row is not None and row.merged_into_id is not None:
            row, _ = await queries.resolve_contact(session, scope.account_id, row.id)
        if row is None:
            pending[str(note_id)] = {
                "note": {
                    k: data.get(k) for k in ("id", "uuid", "body", "is_favorited", "created_at")
                },
                "contact": contact,
            }
            continue
        if row.deleted_at is not None:
            crawl.summary["notes_skipped"] += 1
            continue
        if str(note_id) in done:
            continue
        key = (row.id, body)
        existing = bodies.get(key)
        if existing is not None:
            records.append((str(note_id), existing))
            continue
        if key not in created:
            note = Note(
                account_id=scope.account_id,
                contact_id=row.id,
                body=body,
                favorite=data.get("is_favorited") is True,
                author_id=scope.user_id,
            )
            stamp = parse_timestamp(data.get("created_at"))
            if stamp is not None:
                note.created_at = stamp
            created[key] = note
            crawl.summary["notes"] += 1
        records.append((str(note_id), key))
    session.add_all(created.values())
    if created:
        await session.flush()
    await queries.record_many(
        session,
        account_id=scope.account_id,
        import_id=crawl.row.id,
        source=scope.source,
        rows=[
            ("note", sid, "note", target if isinstance(target, int) else created[target].id)
            for sid, target in records
        ],
    )
    await queries.stage_many(session, kind="pending_note", payloads=pending, **ids)


async def _write_note(
    crawl: Crawl, session: AsyncSession, contact_id: int, data: dict[str, Any], body: str
) -> None:
    note_id = str(data.get("id"))
    if (
        await queries.mapped(session, crawl.scope.account_id, crawl.scope.source, "note", note_id)
        is not None
    ):
        return
    same = await session.scalar(
        select(Note.id)
        .where(
            Note.account_id == crawl.scope.account_id,
            Note.contact_id == contact_id,
            func.btrim(Note.body) == body,
        )
        .limit(1)
    )
    if same is None:
        created = parse_timestamp(data.get("created_at"))
        row = Note(
            account_id=crawl.scope.account_id,
            contact_id=contact_id,
            body=body,
            favorite=data.get("is_favorited") is True,
            author_id=crawl.scope.user_id,
        )
        if created is not None:
            row.created_at = created
        session.add(row)
        await session.flush()
        same = row.id
        crawl.summary["notes"] += 1
    await queries.record(
        session,
        account_id=crawl.scope.account_id,
        import_id=crawl.row.id,
        source=crawl.scope.source,
        entity_type="note",
        source_id=note_id,
        local_type="note",
        local_id=same,
    )


async def _notes_shortfall(crawl: Crawl, total: int | None) -> None:
    """Distinct ids < meta.total: refetch per contact, only where Monica counts more notes."""
    async with crawl.unit_of_work() as session:
        seen = len(await queries.staged_keys(session, crawl.row.id, "note_seen"))
        if total is None or seen >= total:
            return
        deferred = await queries.staged(session, crawl.row.id, "deferred")
        short: list[tuple[int, int]] = []
        for key, payload in deferred.items():
            expected = as_int(as_dict(payload.get("statistics")).get("number_of_notes")) or 0
            if expected <= 0:
                continue
            local = await queries.mapped(
                session, crawl.scope.account_id, crawl.scope.source, "contact", key
            )
            if local is None:
                continue
            have = await session.scalar(
                select(func.count())
                .select_from(ImportRecord)
                .join(
                    Note,
                    and_(
                        Note.id == ImportRecord.local_entity_id,
                        Note.account_id == ImportRecord.account_id,
                    ),
                )
                .where(
                    ImportRecord.account_id == crawl.scope.account_id,
                    ImportRecord.source == crawl.scope.source,
                    ImportRecord.source_entity_type == "note",
                    Note.contact_id == local,
                )
            )
            if (have or 0) < expected:
                short.append((int(key), local))
    for mid, _local in short:
        page = 1
        while True:
            try:
                result = await crawl.client.page(
                    f"/contacts/{mid}/notes", page=page, endpoint="/contacts/{id}/notes"
                )
            except MonicaError as err:
                if err.transient:
                    raise
                crawl.error(f"{err.message}; notes of contact {mid} skipped")
                break
            async with crawl.step() as session:
                await _notes_chunk(crawl, session, result.data)
            if page >= result.last_page or not result.data:
                break
            page += 1


# --- P1.4 coverage backfill ----------------------------------------------------------------------


async def coverage_backfill(crawl: Crawl) -> None:
    await Backfill(crawl, refmap=_refmap).run()
    crawl.checkpoint = {"phase": "auto_merge"}


# --- P1.5 auto-merge -----------------------------------------------------------------------------


async def auto_merge(crawl: Crawl) -> None:
    if not crawl.options.auto_merge_duplicates:
        crawl.checkpoint = {"phase": "cross_references"}
        return
    async with crawl.unit_of_work() as session:
        groups = await merge_groups(session, crawl.scope.account_id, crawl.row.id)
    for start in range(0, len(groups), PAIRS_PER_STEP):
        async with crawl.step() as session:
            for survivor, loser in groups[start : start + PAIRS_PER_STEP]:
                await _merge_pair(crawl, session, survivor, loser)
    crawl.checkpoint = {"phase": "cross_references"}


async def _merge_pair(crawl: Crawl, session: AsyncSession, survivor: int, loser: int) -> None:
    problem = await merge_pair(
        session,
        account_id=crawl.scope.account_id,
        import_id=crawl.row.id,
        user_id=crawl.scope.user_id,
        generation=crawl.row.generation,
        survivor=survivor,
        loser=loser,
    )
    if problem is None:
        crawl.summary["merged"] += 1
    else:
        crawl.error(problem)


# --- P2 cross references -------------------------------------------------------------------------


async def cross_references(crawl: Crawl) -> None:
    async with crawl.unit_of_work() as session:
        deferred = await queries.staged(session, crawl.row.id, "deferred")

    def has_references(payload: dict[str, Any]) -> bool:
        return bool(payload.get("first_met_through") or payload.get("relationships"))

    # Entries without references write nothing: drop them in bulk, then work the rest.
    empty = sorted(k for k, v in deferred.items() if not has_references(v))
    for start in range(0, len(empty), ITEM_CHUNK):
        async with crawl.step() as session:
            await queries.unstage_many(
                session, crawl.row.id, "deferred", empty[start : start + ITEM_CHUNK]
            )
            crawl.checkpoint = {"phase": "cross_references", "started": True}
    keys = sorted((k for k, v in deferred.items() if has_references(v)), key=int)
    links = _Links()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        async with crawl.step() as session:
            refmap = await _refmap(crawl, session)
            await _prefetch_locals(crawl, session, [deferred[k] for k in chunk], chunk)
            for key in chunk:
                await _references_of(crawl, session, refmap, int(key), deferred[key], links)
            await links.write(crawl, session)
            await queries.unstage_many(session, crawl.row.id, "deferred", chunk)
            crawl.checkpoint = {"phase": "cross_references", "started": True}
    async with crawl.unit_of_work() as session:
        pending = await queries.staged(session, crawl.row.id, "pending_note")
    items = sorted(pending.items())
    for start in range(0, len(items), ITEM_CHUNK):
        async with crawl.step() as session:
            for key, payload in items[start : start + ITEM_CHUNK]:
                await _pending_note(crawl, session, payload)
                await queries.unstage(session, crawl.row.id, "pending_note", key)


async def _prefetch_locals(
    crawl: Crawl, session: AsyncSession, payloads: list[dict[str, Any]], keys: list[str]
) -> None:
    """Resolve every Monica id a chunk of references names with three statements."""
    mids = set(keys)
    for payload in payloads:
        through = as_int(as_dict(payload.get("first_met_through")).get("id"))
        if through is not None:
            mids.add(str(through))
        for relation in payload.get("relationships", []):
            target = as_int(as_dict(relation.get("contact")).get("id"))
            if target is not None:
                mids.add(str(target))
    scope = crawl.scope
    known = await queries.mapped_many(session, scope.account_id, scope.source, "contact", mids)
    rows = await queries.contacts_by_id(session, scope.account_id, list(set(known.values())))
    cache: dict[int, int | None] = {}
    for mid in mids:
        row = rows.get(known.get(mid, -1))
        if row is not None and row.merged_into_id is None:
            cache[int(mid)] = row.id if row.deleted_at is None else None
        elif mid not in known:
            cache[int(mid)] = None
        # merged contacts are followed one by one in _local
    crawl.locals = cache


async def _local(crawl: Crawl, session: AsyncSession, mid: int) -> int | None:
    if mid in crawl.locals:
        return crawl.locals[mid]
    known = await queries.mapped(
        session, crawl.scope.account_id, crawl.scope.source, "contact", str(mid)
    )
    if known is None:
        return None
    row, _ = await queries.resolve_contact(session, crawl.scope.account_id, known)
    if row is None or row.deleted_at is not None:
        return None
    return row.id


@dataclass
class _Links:
    """A P2 chunk's cross references, checked against the database and written together.

    `symmetric` (type id → name equals reverse name, ignoring case) lives for the phase.
    """

    symmetric: dict[int, bool] = field(default_factory=dict)
    met: dict[int, int] = field(default_factory=dict)
    wanted: list[tuple[int, int, int]] = field(default_factory=list)

    async def write(self, crawl: Crawl, session: AsyncSession) -> None:
        account = crawl.scope.account_id
        if self.met:
            await queries.set_first_met_through_many(session, account, self.met)
        if self.wanted:
            await self._symmetric(session, {t for _, _, t in self.wanted})
            existing = await queries.relationships_among(session, account, self.wanted)
            rows: list[dict[str, int]] = []
            for a, b, type_id in self.wanted:
                # (A, T, B), or (B, T, A) for a symmetric T: one row per pair, since
                # `reverse_name` labels B's side.
                if (a, b, type_id) in existing or (
                    self.symmetric[type_id] and (b, a, type_id) in existing
                ):
                    continue
                existing.add((a, b, type_id))
                rows.append(
                    {
                        "account_id": account,
                        "contact_id": a,
                        "related_contact_id": b,
                        "relationship_type_id": type_id,
                    }
                )
            if rows:
                await session.execute(insert(Relationship), rows)
                crawl.summary["relationships"] += len(rows)
        self.met, self.wanted = {}, []

    async def _symmetric(self, session: AsyncSession, type_ids: set[int]) -> None:
        missing = type_ids - self.symmetric.keys()
        if not missing:
            return
        rows = await session.execute(
            select(
                RelationshipType.id,
                func.lower(RelationshipType.name) == func.lower(RelationshipType.reverse_name),
            ).where(RelationshipType.id.in_(missing))
        )
        for type_id, symmetric in rows:
            self.symmetric[type_id] = bool(symmetric)
        for type_id in missing - self.symmetric.keys():
            self.symmetric[type_id] = False


async def _references_of(
    crawl: Crawl,
    session: AsyncSession,
    refmap: ReferenceMap,
    mid: int,
    payload: dict[str, Any],
    links: _Links,
) -> None:
    me = await _local(crawl, session, mid)
    label = payload.get("label") or f"Contact {mid}"
    if me is None:
        return
    through = as_dict(payload.get("first_met_through"))
    through_id = as_int(through.get("id"))
    if through_id is not None:
        other = await _local(crawl, session, through_id)
        if other is None:
            crawl.error(f"{label}: first_met_through contact {through_id} not imported")
        elif other != me:
            links.met[me] = other
    for relation in payload.get("relationships", []):
        slug = str(relation.get("slug") or "")
        target = as_int(as_dict(relation.get("contact")).get("id"))
        if target is None or not slug:
            continue
        other = await _local(crawl, session, target)
        if other is None:
            crawl.error(f"Relationship {slug} between {mid} and {target}: {target} not imported")
            continue
        if other == me:
            continue
        resolved = await refmap.relationship_type(session, slug, None)
        if resolved is None:
            continue
        type_id, flipped = resolved
        links.wanted.append((other, me, type_id) if flipped else (me, other, type_id))


async def _pending_note(crawl: Crawl, session: AsyncSession, payload: dict[str, Any]) -> None:
    note = as_dict(payload.get("note"))
    cid = as_int(as_dict(payload.get("contact")).get("id"))
    local = await _local(crawl, session, cid) if cid is not None else None
    body = as_text(note.get("body"), "body", Problems(), limit=100_000)
    if local is None or body is None:
        crawl.summary["notes_skipped"] += 1
        return
    await _write_note(crawl, session, local, note, body)


_PHASES = {
    "reference_data": reference_data,
    "listing": listing,
    "notes": notes,
    "coverage_backfill": coverage_backfill,
    "auto_merge": auto_merge,
    "cross_references": cross_references,
}
