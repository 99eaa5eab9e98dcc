"""The media phase's run state and its page transaction (importer.md §9–§11).

Shared by the photo and document pages: the `Run` (import, lease owner, checkpoint, summary),
the settings it needs (`MediaLimits`) and what it is given (`MediaEnv`), and `commit_page`, the
one fenced transaction per page that inserts rows and mappings, sets avatars, writes
`sync_summary` and the checkpoint, and re-reads the status. `hold` is where a `cancelling`
import is moved to `cancelled` (in that transaction, committed before the run stops).

Storage keys derive from the run id and the Monica item, so a resumed page rewrites the same
file instead of leaving a second one; files of rows that were not written are deleted.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import imports
from kith_common.db.models import Import
from kith_common.events import subjects
from kith_common.events.envelope import Payload
from kith_common.events.payloads.imports import ImportCancelled, ImportProgress
from kith_common.monica.errors import (
    MonicaAuthError,
    MonicaError,
    MonicaNotJson,
    MonicaRefused,
)
from kith_common.ssrf import AllowedHosts
from kith_common.storage import Storage
from kith_photos import queries
from kith_photos.hosts import HostGates
from kith_photos.metrics import ITEMS, STORED_BYTES
from kith_photos.summary import Entry, SyncSummary

__all__ = [
    "MAX_ERRORS",
    "Fatal",
    "MediaEnv",
    "MediaLimits",
    "Outcome",
    "Phase",
    "Run",
    "Stop",
    "Stored",
    "cancel",
    "commit_page",
    "contact_of",
    "discard",
    "hold",
    "listing_error",
    "monica_id_of",
    "no_phase_left",
    "progress",
    "progress_edge",
    "save",
    "source_id_of",
    "storage_key",
    "summary_json",
]

log = structlog.get_logger(__name__)

Outcome = Literal["completed", "failed", "cancelled", "nothing_to_do", "stopped", "lease_lost"]
Phase = Literal["photos", "documents"]
PROGRESS_EVERY_SECONDS: Final = 2.0
MAX_ERRORS: Final = 50
_KEY_NAMESPACE: Final = uuid.UUID("6f1c2f0e-6b1e-4c55-9d0a-4b6a0b8a4e11")


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """The settings the phase needs, as plain values (CONVENTIONS §6)."""

    encryption_key: bytes
    photo_max_bytes: int
    document_max_bytes: int
    photo_page_max_bytes: int
    response_max_bytes: int
    allow_private: bool
    rate_limit_per_minute: int
    rate_window_seconds: float = 60.0
    photo_page_timeout_seconds: float = 60.0
    # KITH_SECRET_KEY_PREVIOUS during a rotation: decrypts keys stored before it.
    previous_keys: tuple[bytes, ...] = ()
    allowed_hosts: AllowedHosts = ()  # KITH_IMPORT_ALLOWED_HOSTS


@dataclass(frozen=True, slots=True)
class MediaEnv:
    """What one run is given: fenced transactions, the outbox, storage, the limiter's DB, and the
    process-wide politeness toward foreign file hosts."""

    unit_of_work: Callable[[], AbstractAsyncContextManager[AsyncSession]]
    publish: Callable[[AsyncSession, str, Payload], Awaitable[Any]]
    heartbeat: Callable[[], Awaitable[None]]
    sessions: async_sessionmaker[AsyncSession]
    storage: Storage
    limits: MediaLimits
    hosts: HostGates = field(default_factory=HostGates)


class Stop(Exception):  # control flow: the run ends with this outcome
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.outcome = outcome


class Fatal(Exception):
    """The phase cannot go on (key rejected, not the Monica API, host refused)."""

    def __init__(self, phase: Phase, message: str) -> None:
        super().__init__(message)
        self.phase = phase
        self.message = message


@dataclass
class Run:
    import_id: int
    account_id: int
    user_id: int | None
    source: str
    api_url: str
    api_key: str
    want_photos: bool
    want_documents: bool
    owner: str
    checkpoint: dict[str, Any]
    summary: SyncSummary
    last_progress: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def phase(self) -> Phase:
        return "documents" if self.checkpoint.get("phase") == "documents" else "photos"


@dataclass(frozen=True, slots=True)
class Stored:
    """A file written for a planned row."""

    kind: Literal["photo", "document"]
    source_id: str
    uuid: str | None
    monica_id: int | None
    contact_id: int
    monica_contact_id: int | None
    key: str
    file_name: str | None
    content_type: str
    size: int
    content_hash: str


async def cancel(
    env: MediaEnv, session: AsyncSession, row: Import, summary: SyncSummary, phase: str
) -> None:
    """`cancelling` → `cancelled`, keeping the counts so far (importer.md §10)."""
    summary.status = "cancelled"
    moved = await imports.move(
        session, row.id, "media_status", "cancelled", only_from=("cancelling",)
    )
    await queries.write_sync_summary(session, row.id, summary.to_json())
    await queries.drop_checkpoint(
        session, row.id, whole_import=moved is not None and no_phase_left(moved)
    )
    await env.publish(
        session,
        subjects.IMPORT_CANCELLED,
        ImportCancelled(
            import_id=row.id,
            reason="account_reset" if row.cancel_reason == "account_reset" else "user",
            cancelled_in_phase="documents" if phase == "documents" else "photos",
            sync_summary=summary.counts(),
        ),
    )
    log.info("media_sync_cancelled", phase=phase)


def no_phase_left(row: Import) -> bool:
    return all(getattr(row, p) not in imports.ACTIVE for p in imports.PHASES)


async def hold(env: MediaEnv, session: AsyncSession, run: Run) -> Outcome | None:
    """Lock the import in a page transaction; None to go on, else why the run stops.

    A `cancelling` import is moved to `cancelled` here, in this transaction, which the caller
    commits before stopping (never raise inside it: that would roll the cancel back).
    """
    row = await queries.lock_import(session, run.import_id)
    if row is None:
        return "stopped"
    if row.media_status == "cancelling":
        await cancel(env, session, row, run.summary, run.phase)
        return "cancelled"
    if row.media_status != "processing":
        return "stopped"
    checkpoint = await queries.read_checkpoint(session, run.import_id)
    # A missing checkpoint is not a lost lease: staging rows of the import may be dropped by
    # another phase ending; this page's `save` writes it again. Another owner means a second
    # worker took over (ours went stale): it finishes the run, this one stops.
    if checkpoint is not None and checkpoint.get("owner") != run.owner:
        return "lease_lost"
    return None


async def save(session: AsyncSession, run: Run) -> None:
    run.checkpoint["lease_at"] = await queries.db_epoch(session)
    await queries.write_checkpoint(
        session, account_id=run.account_id, import_id=run.import_id, payload=run.checkpoint
    )
    await queries.write_sync_summary(session, run.import_id, summary_json(run))


def summary_json(run: Run) -> dict[str, Any]:
    data = run.summary.to_json()
    if run.errors:
        data["errors"] = run.errors[-MAX_ERRORS:]
    return data


async def progress(env: MediaEnv, session: AsyncSession, run: Run, *, force: bool) -> None:
    """`kith.evt.import.progress`: at phase edges, otherwise at most every 2 s."""
    now = time.monotonic()
    if not force and now - run.last_progress < PROGRESS_EVERY_SECONDS:
        return
    run.last_progress = now
    phase: Phase = "documents" if run.phase == "documents" and run.want_documents else "photos"
    counts = run.summary.photos if phase == "photos" else run.summary.documents
    done = counts.synced + counts.duplicate + counts.failed + counts.not_found
    await env.publish(
        session,
        subjects.IMPORT_PROGRESS,
        ImportProgress(
            import_id=run.import_id, phase=phase, current=done, total=counts.total or None
        ),
    )


async def progress_edge(env: MediaEnv, run: Run) -> None:
    """Save the checkpoint and announce a phase edge (end of photos, start of documents)."""
    async with env.unit_of_work() as session:
        stop = await hold(env, session, run)
        if stop is None:
            await save(session, run)
            await progress(env, session, run, force=True)
    if stop is not None:
        raise Stop(stop)


def storage_key(run: Run, kind: str, source_id: str, ext: str) -> str:
    name = uuid.uuid5(_KEY_NAMESPACE, f"{run.checkpoint['run']}:{kind}:{source_id}")
    folder = "photos" if kind == "photo" else "documents"
    return f"a/{run.account_id}/{folder}/{name}{ext}"


def contact_of(item: dict[str, Any]) -> int | None:
    contact = item.get("contact")
    if isinstance(contact, dict) and isinstance(contact.get("id"), int):
        return int(contact["id"])
    return None


def monica_id_of(item: dict[str, Any]) -> int | None:
    value = item.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def source_id_of(kind: str, item: dict[str, Any], position: int) -> str:
    """Photos are recorded by uuid, documents by id (importer.md §9)."""
    if kind == "photo" and isinstance(item.get("uuid"), str) and item["uuid"]:
        return str(item["uuid"])
    monica_id = monica_id_of(item)
    return str(monica_id) if monica_id is not None else f"@{position}"


def listing_error(phase: Phase, err: MonicaError) -> None:
    """401, a web page or a refused host end the phase; other list errors skip the page."""
    if isinstance(err, MonicaAuthError | MonicaNotJson | MonicaRefused):
        raise Fatal(phase, err.message) from None


async def commit_page(
    env: MediaEnv, run: Run, entries: list[Entry | Stored], written: list[str]
) -> None:
    """One fenced transaction: rows, mappings, avatars, summary, checkpoint, progress."""
    summary_before = SyncSummary.from_json(run.summary.to_json())
    unused: list[str] = []
    try:
        async with env.unit_of_work() as session:
            stop = await hold(env, session, run)
            if stop is not None:
                entries = []
            inserted = await insert_all(
                session, run, [e for e in entries if isinstance(e, Stored)], unused
            )
            for entry in entries:
                run.summary.record(inserted[entry.key] if isinstance(entry, Stored) else entry)
            if stop is None:
                counts = run.summary.photos if run.phase == "photos" else run.summary.documents
                seen = len(run.checkpoint.get("seen", []))
                counts.missing = max(0, counts.total - seen)
                run.checkpoint["page"] = int(run.checkpoint.get("page", 1)) + 1
                await save(session, run)
                await progress(env, session, run, force=False)
        if stop is not None:
            raise Stop(stop)
    except BaseException:
        run.summary = summary_before
        raise
    _count(entries, inserted)
    await discard(env, unused)


def _count(entries: list[Entry | Stored], inserted: dict[str, Entry]) -> None:
    """Metrics only once the page committed, so a rolled-back page counts nothing."""
    for item in entries:
        entry = inserted[item.key] if isinstance(item, Stored) else item
        ITEMS.labels(entry.kind, entry.status, entry.reason or "").inc()
        if isinstance(item, Stored) and entry.status == "synced":
            STORED_BYTES.labels(item.kind).inc(item.size)


async def insert_all(
    session: AsyncSession, run: Run, stored: list[Stored], unused: list[str]
) -> dict[str, Entry]:
    """Insert a page's rows in three statements: rows, mappings, avatars. Returns each stored
    item's entry by storage key: synced, or duplicate when a concurrent writer stored the same
    image on the contact first (its file then goes, §9)."""
    if not stored:
        return {}
    kind = stored[0].kind
    rows = [
        {
            "account_id": run.account_id,
            "contact_id": item.contact_id,
            "storage_key": item.key,
            "file_name": item.file_name,
            "content_type": item.content_type,
            "size_bytes": item.size,
            "content_hash": item.content_hash,
            "creator_id": run.user_id,
        }
        for item in stored
    ]
    ids = await queries.insert_media(session, kind, rows)
    await queries.upsert_records(
        session,
        account_id=run.account_id,
        import_id=run.import_id,
        source=run.source,
        entity_type=kind,
        local_ids={item.source_id: ids[item.key] for item in stored if item.key in ids},
    )
    if kind == "photo":
        first: dict[int, int] = {}
        for item in stored:
            if item.key in ids:
                first.setdefault(item.contact_id, ids[item.key])
        await queries.set_avatars_if_unset(session, account_id=run.account_id, avatars=first)
    entries: dict[str, Entry] = {}
    for item in stored:
        entry = Entry(
            item.kind, item.uuid, item.monica_id, item.contact_id, item.monica_contact_id, "synced"
        )
        if item.key not in ids:
            unused.append(item.key)
            entry = replace(entry, status="duplicate")
        entries[item.key] = entry
    return entries


async def discard(env: MediaEnv, keys: list[str]) -> None:
    """Delete files whose rows were not written (data-model §4), unless a row names them."""
    if not keys:
        return
    with contextlib.suppress(Exception):
        async with env.sessions() as session:
            in_use = await queries.keys_in_use(session, keys)
        for key in keys:
            if key not in in_use:
                await env.storage.delete(key)
