"""P2 cross references (importer.md §7.6): first_met_through, relationships (one row per pair)
and the notes whose contact was not mapped yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import (
    Relationship,
    RelationshipType,
)
from kith_importer import queries
from kith_importer.crawl import CHUNK, ITEM_CHUNK, Crawl
from kith_importer.parsing import Problems, as_dict, as_int, as_text
from kith_importer.phases.notes import write_note
from kith_importer.phases.reference_data import refmap_of
from kith_importer.reference import ReferenceMap

__all__ = ["run"]

log = structlog.get_logger(__name__)


async def run(crawl: Crawl) -> None:
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
            refmap = await refmap_of(crawl, session)
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
    await write_note(crawl, session, local, note, body)
