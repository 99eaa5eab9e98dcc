"""Running one vCard import (importer.md §12): parse the stored upload, write contacts, done.

The upload is decoded and its cards counted in a worker thread; a file over
`KITH_VCARD_MAX_CARDS` fails at once. Then each step parses the next ten cards in a worker
thread and writes them in one fenced transaction with the checkpoint (the next card) and the
counters, so the event loop is never blocked by a big file, a redelivery resumes where the
last commit ended, and a cancel takes effect within one step. Each step refreshes the lease
first and stops if another worker took it over. At the end the import is `completed` and
`kith.evt.import.completed` goes out, so dedup scans the new contacts.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Final

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import imports
from kith_common.bus.subscribe import MessageContext
from kith_common.db.models import Account, Import
from kith_common.errors import Transient
from kith_common.events import subjects
from kith_common.events.payloads.imports import (
    ImportCancelled,
    ImportCompleted,
    ImportCounts,
    ImportFailed,
    ImportOptions,
    ImportProgress,
    StartImport,
)
from kith_common.storage import Storage, StorageError
from kith_common.vcards import count_cards, too_many_cards
from kith_importer import metrics
from kith_importer.automerge import merge_groups, merge_pair
from kith_importer.config import ImporterConfig, owner_is_dead
from kith_importer.vcard.mapping import map_card, source_id
from kith_importer.vcard.parse import CardStream, decode
from kith_importer.vcard.store import VcardScope, field_types, write_card

__all__ = ["run_if_vcard"]

log = structlog.get_logger(__name__)
CHUNK: Final = 10
MAX_ERRORS: Final = 50


async def run_if_vcard(
    ctx: MessageContext[StartImport],
    config: ImporterConfig,
    sessions: async_sessionmaker[AsyncSession],
    storage: Storage | None,
) -> bool:
    """Run the import if it is a vCard one; False leaves it to the Monica crawl."""
    async with sessions() as session:
        source = await session.scalar(select(Import.source).where(Import.id == ctx.data.import_id))
    if source != "vcard":
        return False
    with structlog.contextvars.bound_contextvars(import_id=ctx.data.import_id, phase="vcard"):
        await _run(ctx, config, storage)
    return True


async def _run(
    ctx: MessageContext[StartImport], config: ImporterConfig, storage: Storage | None
) -> None:
    import_id = ctx.data.import_id
    async with ctx.unit_of_work() as session:
        lease = await imports.take_lease(
            session,
            import_id,
            config.owner,
            owner_is_dead=lambda owner: owner_is_dead(owner, config.owner),
        )
        row = lease.row
        if row is None or row.account_id != ctx.envelope.account_id:
            return
        if lease.busy:
            msg = f"import {import_id} is being read by another worker"
            raise Transient(msg)
        if row.status in imports.FINAL:
            return
        if row.status == "cancelling":
            await _cancel(ctx, session, row, {})
            return
        if row.status == "pending":
            row = await imports.move(session, import_id, "status", "processing")
            assert row is not None
        options = ImportOptions.model_validate(row.options or {})
        locale = await session.scalar(select(Account.locale).where(Account.id == row.account_id))
        email_type, phone_type = await field_types(session)
        scope = VcardScope(
            account_id=row.account_id,
            import_id=row.id,
            user_id=row.user_id,
            region=options.phone_default_region or _region_of(locale),
            email_type=email_type,
            phone_type=phone_type,
        )
        checkpoint = dict(row.checkpoint or {})
        summary: dict[str, Any] = dict(row.summary or {})
        generation = row.generation
        storage_key = row.file_storage_key
    upload = await _read_upload(ctx, import_id, storage, storage_key, config.vcard_max_cards)
    if upload is None:
        return
    started = time.monotonic()
    if not summary:
        summary = {
            "imported": 0,
            "contacts": 0,
            "skipped": 0,
            "errors": [],
            "error_count": 0,
            "cards": upload.total,
            "latin1_fallback": upload.latin1,
        }
    position = int(checkpoint.get("card", 0))
    stream = CardStream(upload.text)
    del upload  # the stream holds the text; nothing else needs it
    await asyncio.to_thread(stream.skip, position)
    await _progress(ctx, import_id, position, int(summary["cards"]))
    # One step: read and parse the next cards in a worker thread (the loop keeps acking and
    # answering health checks), then write them with the checkpoint in one fenced transaction.
    while items := await asyncio.to_thread(stream.take, CHUNK):
        await ctx.heartbeat()
        async with ctx.unit_of_work() as session:
            current = await imports.heartbeat(session, import_id, config.owner)
            if current is None:
                # Our lease went stale and another worker holds it: it does the work now.
                log.warning("vcard_lease_lost", card=position)
                return
            if current.status != "processing":
                if current.status == "cancelling":
                    await _cancel(ctx, session, current, summary)
                return
            for item in items:
                position += item.block
                if item.card is None:
                    _error(summary, item.error or "unreadable card")
                    continue
                values = map_card(item.card)
                for problem in values.problems:
                    _error(summary, f"card at line {item.card.line}: {problem}")
                outcome = await write_card(session, scope, source_id(item.card), values)
                if outcome == "skipped":
                    summary["skipped"] += 1
                else:
                    summary["contacts"] += 1
                    summary["imported"] += 1
            current.checkpoint = {"phase": "vcard", "card": position}
            current.summary = dict(summary)
    if not summary["contacts"] and not summary["skipped"]:
        reason = summary["errors"][0] if summary["errors"] else "the file holds no vCard"
        await _fail(ctx, import_id, f"no readable card in the file ({reason})")
        return
    summary["duration_seconds"] = round(
        float(summary.get("duration_seconds", 0.0)) + time.monotonic() - started, 3
    )
    async with ctx.unit_of_work() as session:
        if options.auto_merge_duplicates:
            await _auto_merge(session, scope, generation, summary)
        moved = await imports.move(
            session,
            import_id,
            "status",
            "completed",
            only_from=("processing",),
            summary=summary,
            checkpoint={"phase": "vcard", "done": True},
        )
        if moved is None:
            return
        counts = ImportCounts.model_validate(
            {k: v for k, v in summary.items() if k in ImportCounts.model_fields}
        )
        await ctx.publish(
            subjects.IMPORT_PROGRESS,
            ImportProgress(
                import_id=import_id,
                phase="vcard",
                current=int(summary["cards"]),
                total=int(summary["cards"]),
            ),
            session=session,
        )
        await ctx.publish(
            subjects.IMPORT_COMPLETED,
            ImportCompleted(import_id=import_id, source="vcard", options=options, counts=counts),
            session=session,
        )
    log.info("vcard_import_completed", contacts=summary["contacts"], errors=summary["error_count"])
    metrics.import_ended("vcard", "completed")


async def _auto_merge(
    session: AsyncSession, scope: VcardScope, generation: int, summary: dict[str, Any]
) -> None:
    """Merge the import's definite duplicates (importer.md §12), in the completing transaction:
    a redelivery before the commit merges again from scratch, after it finds nothing left."""
    groups = await merge_groups(session, scope.account_id, scope.import_id)
    for survivor, loser in groups:
        problem = await merge_pair(
            session,
            account_id=scope.account_id,
            import_id=scope.import_id,
            user_id=scope.user_id,
            generation=generation,
            survivor=survivor,
            loser=loser,
        )
        if problem is None:
            summary["merged"] = int(summary.get("merged", 0)) + 1
        else:
            _error(summary, problem)


@dataclass(frozen=True, slots=True)
class _Upload:
    text: str
    latin1: bool
    total: int


def _open(data: bytes) -> _Upload:
    text, latin1 = decode(data)
    return _Upload(text=text, latin1=latin1, total=count_cards(data))


async def _read_upload(
    ctx: MessageContext[StartImport],
    import_id: int,
    storage: Storage | None,
    storage_key: str | None,
    max_cards: int,
) -> _Upload | None:
    """The decoded upload and its card count; None once the import failed for good.

    A missing file cannot come back, and a file over the card cap never fits: both fail the
    import with a readable reason. Any other storage error is an outage (the nack retries it).
    """
    try:
        if storage is None or storage_key is None:
            raise FileNotFoundError(storage_key)
        data = await storage.get(storage_key)
    except FileNotFoundError:
        log.warning("vcard_file_missing")
        await _fail(ctx, import_id, "the uploaded vCard file is no longer stored")
        return None
    except StorageError as err:
        msg = "the uploaded vCard file could not be read from storage"
        raise Transient(msg) from err
    upload = await asyncio.to_thread(_open, data)
    refusal = too_many_cards(upload.total, max_cards)
    if refusal is not None:
        await _fail(ctx, import_id, refusal)
        return None
    return upload


def _region_of(locale: str | None) -> str | None:
    """The account's region from its locale (`en-US`, `de_DE`), if it names one."""
    parts = (locale or "").replace("_", "-").split("-")
    return parts[1].upper() if len(parts) > 1 and len(parts[1]) == 2 else None


def _error(summary: dict[str, Any], message: str) -> None:
    summary["error_count"] = int(summary.get("error_count", 0)) + 1
    errors = summary.setdefault("errors", [])
    if len(errors) < MAX_ERRORS:
        errors.append(message[:500])


async def _progress(
    ctx: MessageContext[StartImport], import_id: int, current: int, total: int
) -> None:
    async with ctx.unit_of_work() as session:
        await ctx.publish(
            subjects.IMPORT_PROGRESS,
            ImportProgress(import_id=import_id, phase="vcard", current=current, total=total),
            session=session,
        )


async def _cancel(
    ctx: MessageContext[StartImport], session: AsyncSession, row: Import, summary: dict[str, Any]
) -> None:
    moved = await imports.move(
        session,
        row.id,
        "status",
        "cancelled",
        only_from=("cancelling",),
        summary=summary or None,
        cancel_pending_follow_ups=True,
    )
    if moved is None:
        return
    counts = ImportCounts.model_validate(
        {k: v for k, v in summary.items() if k in ImportCounts.model_fields}
    )
    await ctx.publish(
        subjects.IMPORT_CANCELLED,
        ImportCancelled(
            import_id=row.id,
            reason=row.cancel_reason or "user",
            cancelled_in_phase="vcard",
            counts=counts,
        ),
        session=session,
    )
    metrics.import_ended("vcard", "cancelled")  # in the caller's transaction, just before commit


async def _fail(ctx: MessageContext[StartImport], import_id: int, reason: str) -> None:
    async with ctx.unit_of_work() as session:
        moved = await imports.move(
            session,
            import_id,
            "status",
            "failed",
            only_from=("pending", "processing"),
            error=reason,
            cancel_pending_follow_ups=True,
        )
        if moved is not None:
            await ctx.publish(
                subjects.IMPORT_FAILED,
                ImportFailed(import_id=import_id, phase="vcard", reason=reason),
                session=session,
            )
    if moved is not None:
        metrics.import_ended("vcard", "failed")
