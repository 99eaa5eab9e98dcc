"""P1.2 notes (importer.md §7.3): the account-wide `/notes` list (⌈notes/100⌉ requests), then,
if its distinct notes fall short of `meta.total`, its torn tie groups re-listed (§7.4 B/C: the
list sorts by `created_at` and tears like the contacts' listing), and only then the per-contact
fallback for the contacts whose `number_of_notes` exceeds what was imported."""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import (
    ImportRecord,
    Note,
)
from kith_common.monica.errors import MonicaError
from kith_common.monica.relisting import relisting_plan, tie_groups, trace_page, trace_rows
from kith_importer import queries
from kith_importer.crawl import ITEM_CHUNK, Crawl
from kith_importer.parsing import Problems, as_dict, as_int, as_text, parse_timestamp
from kith_importer.phases.paging import pages_from

__all__ = ["run", "write_note"]

log = structlog.get_logger(__name__)
TRACE_KIND = "note_page"  # the notes list's trace: ids and created_at of each page


async def run(crawl: Crawl) -> None:
    if not crawl.options.notes:
        crawl.checkpoint = {"phase": "coverage_backfill"}
        return
    total = crawl.checkpoint.get("total")
    if not crawl.checkpoint.get("listed"):
        total = await _list(crawl, int(crawl.checkpoint.get("page", 1)), total)
    await _relist(crawl, total)
    crawl.use("per_contact")
    await _notes_shortfall(crawl, total)
    crawl.checkpoint = {"phase": "coverage_backfill"}


async def _list(crawl: Crawl, page: int, total: int | None) -> int | None:
    """The account-wide list from `page`, each page's trace staged with its first chunk."""

    def skip(err: MonicaError, page: int) -> None:
        crawl.error(f"{err.message}; notes page {page} skipped")

    listed = pages_from(crawl, "/notes", page, phase="notes", on_error=skip)
    async with contextlib.aclosing(listed):
        async for page, result in listed:
            if total is None:
                total = result.total
            last = page >= result.last_page or not result.data
            starts = range(0, len(result.data), ITEM_CHUNK) or [0]
            for start in starts:
                async with crawl.step() as session:
                    if start == starts[0]:
                        await _stage(
                            crawl,
                            session,
                            TRACE_KIND,
                            str(page),
                            trace_page(result.data, result.total),
                        )
                    await _notes_chunk(crawl, session, result.data[start : start + ITEM_CHUNK])
                    crawl.checkpoint = {
                        "phase": "notes",
                        "started": True,
                        "page": page + 1,
                        "total": total,
                        "listed": last and start == starts[-1],
                    }
                    await crawl.progress(session, crawl.summary["notes"], total)
    return total


async def _relist(crawl: Crawl, total: int | None) -> None:
    """Torn tie groups of the notes list read again (importer.md §7.4 B/C, API §11.1).

    Only when the distinct notes seen fall short of `meta.total`. Each window is one step: its
    unseen notes written and the window recorded as tried, so a resume skips it.
    """
    async with crawl.unit_of_work() as session:
        seen = await queries.staged(session, crawl.row.id, "note_seen")
        pages = await queries.staged(session, crawl.row.id, TRACE_KIND)
        tried = await queries.staged_keys(session, crawl.row.id, "tried")
    if total is None or len(seen) >= total:
        return
    members: dict[str, set[str]] = {}
    for key, payload in seen.items():
        if isinstance(payload.get("created_at"), str):
            members.setdefault(payload["created_at"], set()).add(key)
    rows, _ = trace_rows(pages)
    for group, windows in relisting_plan(tie_groups(rows)):
        for window in windows:
            whole = group.size - group.unnamed
            if len(members.get(group.key or "", ())) >= whole or len(seen) >= total:
                break
            key = f"notes:{window.limit}:{window.page}"
            if key in tried:
                continue
            crawl.use("relisting")
            try:
                result = await crawl.client.page(
                    "/notes", page=window.page, limit=window.limit, endpoint="/notes"
                )
                fresh = [r for r in result.data if str(as_dict(r).get("id")) not in seen]
            except MonicaError as err:
                if err.transient:
                    raise
                crawl.error(f"{err.message}; re-listing notes skipped")
                fresh = []
            async with crawl.step() as session:
                await _notes_chunk(crawl, session, fresh)
                await _stage(crawl, session, "tried", key, {})
            for row in fresh:
                data = as_dict(row)
                seen[str(data.get("id"))] = {}
                if isinstance(data.get("created_at"), str):
                    members.setdefault(data["created_at"], set()).add(str(data.get("id")))


async def _stage(
    crawl: Crawl, session: AsyncSession, kind: str, key: str, payload: dict[str, Any]
) -> None:
    await queries.stage(
        session,
        account_id=crawl.scope.account_id,
        import_id=crawl.row.id,
        kind=kind,
        key=key,
        payload=payload,
    )


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
        session,
        kind="note_seen",
        payloads={str(n[0]): {"created_at": n[2].get("created_at")} for n in notes},
        **ids,
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


async def write_note(
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
