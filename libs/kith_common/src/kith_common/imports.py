"""The imports domain: every move of an import's phases, in one place (importer.md §3, §10).

An import has three phases, each with its own status column: the crawl (`status`), the
misc-data phase (`misc_status`) and the media phase (`media_status`; NULL when not asked
for). The encrypted Monica key may only live while one of them is `pending` or `processing`
(the table's CHECK). Every function here that moves a phase computes, in the same UPDATE, whether
the key is still needed and wipes it otherwise, so no caller can forget.

Callers: the gateway (`create_import`, `request_cancel`, `get`), the reset orchestrator
(`cancel_account_imports`, `force_stale_cancelling`), the importer and photos workers
(`take_lease`, `heartbeat`, `move`). Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from pydantic import ValidationError
from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import fence, phones
from kith_common.bus import outbox
from kith_common.crypto import decrypt_secret, encrypt_secret
from kith_common.db.models import Account, Import
from kith_common.errors import Conflict, InvalidInput, NotFound, StaleGeneration
from kith_common.events import subjects
from kith_common.events.payloads.imports import (
    ImportCancelled,
    ImportOptions,
    ImportPhase,
    StartImport,
)
from kith_common.events.registry import build_envelope
from kith_common.monica.urls import normalize_api_url

if TYPE_CHECKING:
    from sqlalchemy import Table

__all__ = [
    "ACTIVE",
    "FINAL",
    "MISC_OPTIONS",
    "PHASES",
    "LeaseResult",
    "PhaseColumn",
    "beat",
    "cancel_account_imports",
    "create_import",
    "decrypt_api_key",
    "fenced_beat",
    "force_stale_cancelling",
    "get",
    "get_live",
    "heartbeat",
    "move",
    "release_lease",
    "request_cancel",
    "save_progress",
    "take_lease",
    "validate_options",
]

PhaseColumn = Literal["status", "misc_status", "media_status"]
PHASES: Final[tuple[PhaseColumn, ...]] = ("status", "misc_status", "media_status")
ACTIVE: Final = ("pending", "processing")
"""Statuses in which a phase still needs the key."""
FINAL: Final = ("completed", "failed", "cancelled")
MISC_OPTIONS: Final = (
    "pets",
    "calls",
    "activities",
    "gifts",
    "debts",
    "tasks",
    "reminders",
    "conversations",
    "life_events",
    "journal_entries",
)
LEASE_STALE_SECONDS: Final = 60
CANCELLING_STALE_SECONDS: Final = 60


# --- reading -------------------------------------------------------------------------------------


async def get(session: AsyncSession, *, account_id: int, import_id: int) -> Import:
    """The import, scoped to the account.

    Raises:
        NotFound: no such import in this account (also another account's id).
    """
    row = await session.scalar(
        select(Import).where(Import.id == import_id, Import.account_id == account_id)
    )
    if row is None:
        msg = f"import {import_id} not found"
        raise NotFound(msg, code="import-not-found")
    return row


async def get_live(session: AsyncSession, account_id: int) -> Import | None:
    """The account's one live crawl (pending, processing or cancelling), if any."""
    return await session.scalar(
        select(Import).where(
            Import.account_id == account_id,
            Import.status.in_(("pending", "processing", "cancelling")),
        )
    )


def decrypt_api_key(row: Import, encryption_key: bytes | Sequence[bytes]) -> str | None:
    """The plaintext key, in memory only; None once it was wiped."""
    if row.api_key_encrypted is None:
        return None
    return decrypt_secret(encryption_key, row.api_key_encrypted)


# --- creating ------------------------------------------------------------------------------------


def validate_options(options: Mapping[str, Any] | None) -> ImportOptions:
    """The wizard's options, checked (importer.md §2): unknown key or bad region → 422."""
    try:
        parsed = ImportOptions.model_validate(dict(options or {}))
    except ValidationError as err:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "options", "message": e["msg"]}
            for e in err.errors()
        ]
        msg = "invalid import options"
        raise InvalidInput(msg, code="invalid-import-options", errors=errors) from err
    region = parsed.phone_default_region
    if region and region.upper() not in phones.SUPPORTED_REGIONS:
        msg = f"unknown phone region {region!r}"
        raise InvalidInput(
            msg,
            code="invalid-import-options",
            errors=[{"field": "phone_default_region", "message": msg}],
        )
    if region:
        parsed = parsed.model_copy(update={"phone_default_region": region.upper()})
    return parsed


async def create_import(
    session: AsyncSession,
    *,
    account_id: int,
    user_id: int | None,
    encryption_key: bytes,
    source: Literal["monica_api", "vcard"] = "monica_api",
    api_url: str | None = None,
    api_key: str | None = None,
    options: Mapping[str, Any] | None = None,
    file_name: str | None = None,
    file_size: int | None = None,
    file_storage_key: str | None = None,
    correlation_id: uuid.UUID | None = None,
) -> Import:
    """Write the `pending` import and its `kith.cmd.import.start` in the caller's transaction.

    The options are stored fully resolved (defaults made explicit), so every phase reads the
    same choices the user saw. `misc_status` / `media_status` are `pending` only when some
    type of theirs is on (vCard imports have neither). The account row is held `FOR SHARE`,
    so a reset's generation bump cannot slip between reading the generation and the insert.

    Raises:
        InvalidInput: bad URL, missing key or bad options (422).
        Conflict: the account already has a live import (409, code `import-active`).
    """
    parsed = validate_options(options)
    generation = await fence.hold(session, account_id, None)
    values: dict[str, Any] = {
        "account_id": account_id,
        "user_id": user_id,
        "source": source,
        "generation": generation,
        "status": "pending",
        "options": parsed.model_dump(mode="json"),
        "file_name": file_name,
        "file_size": file_size,
        "file_storage_key": file_storage_key,
    }
    if source == "monica_api":
        if not api_url:
            raise _missing("api_url", "the Monica URL is required")
        if not api_key or not api_key.strip():
            raise _missing("api_key", "the Monica API key is required")
        values["api_url"] = normalize_api_url(api_url)
        values["api_key_encrypted"] = encrypt_secret(encryption_key, api_key.strip())
        wants_misc = any(getattr(parsed, name) for name in MISC_OPTIONS)
        values["misc_status"] = "pending" if wants_misc else None
        values["media_status"] = "pending" if parsed.photos or parsed.documents else None
    if await get_live(session, account_id) is not None:
        raise _active()
    row = Import(**values)
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as err:
        # The partial unique index: a concurrent start won the race.
        raise _active() from err
    envelope = build_envelope(
        subjects.IMPORT_START,
        StartImport(import_id=row.id),
        account_id=account_id,
        generation=generation,
        correlation_id=correlation_id,
    )
    await outbox.add(session, subjects.IMPORT_START, envelope)
    return row


def _missing(field: str, message: str) -> InvalidInput:
    return InvalidInput(
        message, code="invalid-input", errors=[{"field": field, "message": message}]
    )


def _active() -> Conflict:
    return Conflict("an import is already running for this account", code="import-active")


# --- moving phases -------------------------------------------------------------------------------


def _key_after(new: Mapping[PhaseColumn, Any]) -> ColumnElement[Any]:
    """`api_key_encrypted` after an UPDATE that sets the phases in `new` (others unchanged)."""
    still_needed: list[ColumnElement[bool]] = []
    for phase in PHASES:
        value = new.get(phase, getattr(Import, phase))
        if isinstance(value, str):
            if value in ACTIVE:
                still_needed.append(literal(value=True))
        elif value is not None:
            still_needed.append(func.coalesce(value, "").in_(ACTIVE))
    if not still_needed:
        return literal(None)
    return case((or_(*still_needed), Import.api_key_encrypted), else_=None)


async def move(
    session: AsyncSession,
    import_id: int,
    phase: PhaseColumn,
    to: str,
    *,
    only_from: tuple[str, ...] | None = None,
    error: str | None = None,
    summary: dict[str, Any] | None = None,
    checkpoint: dict[str, Any] | None = None,
    cancel_pending_follow_ups: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> Import | None:
    """Move one phase to `to`, wiping the key in the same statement when no phase needs it.

    `only_from` makes the move conditional (None is returned when the phase was elsewhere, e.g.
    a cancel got there first). `cancel_pending_follow_ups` (a failed or cancelled crawl) also
    moves `pending` misc/media phases to `cancelled`, so the key goes at once. A move to a final
    status releases the lease and sets `finished_at` when no phase remains active.
    """
    new: dict[PhaseColumn, Any] = {phase: to}
    if cancel_pending_follow_ups:
        for follow_up in ("misc_status", "media_status"):
            if follow_up != phase:
                column = getattr(Import, follow_up)
                new[follow_up] = case((column == "pending", "cancelled"), else_=column)
    values: dict[str, Any] = {
        phase: to,
        "api_key_encrypted": _key_after(new),
        "updated_at": func.now(),
    }
    for follow_up in ("misc_status", "media_status"):
        if follow_up in new and follow_up != phase:
            values[follow_up] = new[follow_up]
    if error is not None:
        values["error"] = error[:2000]
    if summary is not None:
        values["summary"] = summary
    if checkpoint is not None:
        values["checkpoint"] = checkpoint
    if to in FINAL:
        values["lease_owner"] = None
        values["finished_at"] = func.now()
    if to == "processing":
        values["started_at"] = func.coalesce(Import.started_at, func.now())
    if extra:
        values.update(extra)
    stmt = update(Import).where(Import.id == import_id)
    if only_from is not None:
        stmt = stmt.where(getattr(Import, phase).in_(only_from))
    return await session.scalar(stmt.values(**values).returning(Import))


@dataclass(frozen=True, slots=True)
class LeaseResult:
    """`row` is the import once the lease is ours; `busy` when another live worker holds it."""

    row: Import | None
    busy: bool


async def take_lease(
    session: AsyncSession,
    import_id: int,
    owner: str,
    *,
    stale_after_seconds: int = LEASE_STALE_SECONDS,
    owner_is_dead: Callable[[str], bool] | None = None,
) -> LeaseResult:
    """Take the import's lease if free, ours, or stale (importer.md §7.0); locks the row.

    Returns `busy=True` when another worker heartbeated within `stale_after_seconds`: the
    caller naks with a delay instead of running a second crawl. `owner_is_dead` lets a worker
    recognise a previous holder it knows has died (e.g. an earlier process on the same host),
    so a restart resumes at once instead of waiting for the lease to go stale.
    """
    row = await session.scalar(
        select(Import)
        .where(Import.id == import_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        return LeaseResult(None, busy=False)
    now = await session.scalar(select(func.now()))
    assert now is not None
    fresh = row.heartbeat_at is not None and (now - row.heartbeat_at) < dt.timedelta(
        seconds=stale_after_seconds
    )
    dead = (
        owner_is_dead is not None and row.lease_owner is not None and owner_is_dead(row.lease_owner)
    )
    if row.lease_owner not in (None, owner) and fresh and not dead:
        return LeaseResult(row, busy=True)
    taken = await session.scalar(
        update(Import)
        .where(Import.id == import_id)
        .values(lease_owner=owner, heartbeat_at=func.now())
        .returning(Import)
        .execution_options(populate_existing=True)
    )
    return LeaseResult(taken, busy=False)


async def heartbeat(session: AsyncSession, import_id: int, owner: str) -> Import | None:
    """Refresh the lease and return the row as it is now (status re-read for cancel checks).

    None when another worker took the lease over (ours went stale): the caller must stop.
    """
    return await session.scalar(
        update(Import)
        .where(
            Import.id == import_id, or_(Import.lease_owner == owner, Import.lease_owner.is_(None))
        )
        .values(lease_owner=owner, heartbeat_at=func.now())
        .returning(Import)
        .execution_options(populate_existing=True)
    )


# A crawl step's bookkeeping runs once per ≤ 10 contacts (importer.md §7.0): Core statements
# built once (bind parameters only), so they compile once and asyncpg prepares them once per
# connection, and they return only what the step reads instead of the whole ORM row. No bind
# parameter is named after a column of `imports`: an UPDATE would SET a column so named.
_imports = cast("Table", Import.__table__)
_BEAT = (
    update(_imports)
    .where(
        _imports.c.id == bindparam("import_id"),
        or_(_imports.c.lease_owner == bindparam("owner"), _imports.c.lease_owner.is_(None)),
    )
    .values(lease_owner=bindparam("owner"), heartbeat_at=func.now())
    .returning(_imports.c.status)
)
# ARCHITECTURE §5's fence (`kith_common.fence.hold`: the account row FOR SHARE, held to
# commit) and the lease refresh in one round trip. The lease is refreshed only when the
# generation matches, and the caller raises StaleGeneration otherwise, before writing anything.
_FENCE = (
    select(Account.generation)
    .where(Account.id == bindparam("fence_account"))
    .with_for_update(read=True)
    .cte("fence")
)
_FENCED_LEASE = (
    update(_imports)
    .where(
        _imports.c.id == bindparam("import_id"),
        or_(_imports.c.lease_owner == bindparam("owner"), _imports.c.lease_owner.is_(None)),
        exists().where(_FENCE.c.generation == bindparam("fence_generation")),
    )
    .values(lease_owner=bindparam("owner"), heartbeat_at=func.now())
    .returning(_imports.c.status)
    .cte("lease")
)
_FENCED_BEAT = select(
    select(_FENCE.c.generation).scalar_subquery(),
    select(_FENCED_LEASE.c.status).scalar_subquery(),
)
_SAVE = (
    update(_imports)
    .where(_imports.c.id == bindparam("import_id"), _imports.c.status == "processing")
    .values(
        summary=bindparam("new_summary"),
        checkpoint=bindparam("new_checkpoint"),
        updated_at=func.now(),
        started_at=func.coalesce(_imports.c.started_at, func.now()),
    )
)


async def beat(session: AsyncSession, import_id: int, owner: str) -> str | None:
    """`heartbeat` returning only the crawl's status (one light statement per step).

    None when another worker took the lease over (ours went stale): the caller must stop.
    """
    status: str | None = await session.scalar(_BEAT, {"import_id": import_id, "owner": owner})
    return status


async def fenced_beat(
    session: AsyncSession, import_id: int, owner: str, *, account_id: int, generation: int
) -> str | None:
    """Hold the generation fence and refresh the lease in one statement; the crawl's status.

    Opens the caller's transaction in place of `fence.hold` (same lock, held to commit; same
    refusal), then does what `beat` does. None when another worker took the lease over.

    Raises:
        StaleGeneration: the account moved on since `generation`, or no longer exists
            (the lease was not touched).
    """
    row = (
        await session.execute(
            _FENCED_BEAT,
            {
                "import_id": import_id,
                "owner": owner,
                "fence_account": account_id,
                "fence_generation": generation,
            },
        )
    ).one()
    current, status = row
    if current is None:
        msg = f"account {account_id} no longer exists"
        raise StaleGeneration(msg)
    if current != generation:
        msg = f"work of generation {generation}, account {account_id} is at {current}"
        raise StaleGeneration(msg)
    return status  # type: ignore[no-any-return]


async def save_progress(
    session: AsyncSession,
    import_id: int,
    *,
    summary: dict[str, Any],
    checkpoint: dict[str, Any],
) -> None:
    """A processing crawl's counters and checkpoint (`move` to processing, without the row).

    Writes nothing once the crawl left `processing` (a cancel got there first), like
    `move(..., only_from=("processing",))`.
    """
    await session.execute(
        _SAVE, {"import_id": import_id, "new_summary": summary, "new_checkpoint": checkpoint}
    )


async def release_lease(session: AsyncSession, import_id: int, owner: str) -> None:
    """Give the lease back (a worker stopping cleanly without finishing the phase)."""
    await session.execute(
        update(Import)
        .where(Import.id == import_id, Import.lease_owner == owner)
        .values(lease_owner=None)
    )


# --- cancelling ----------------------------------------------------------------------------------


def _cancel_values(reason: str) -> dict[str, Any]:
    new: dict[PhaseColumn, Any] = {}
    for phase in PHASES:
        column = getattr(Import, phase)
        new[phase] = case(
            (column == "pending", "cancelled"),
            (column == "processing", "cancelling"),
            else_=column,
        )
    values: dict[str, Any] = {str(phase): value for phase, value in new.items()}
    values["api_key_encrypted"] = None
    values["cancel_reason"] = reason
    values["updated_at"] = func.now()
    values["finished_at"] = case(
        (
            and_(*(func.coalesce(getattr(Import, p), "") != "processing" for p in PHASES)),
            func.now(),
        ),
        else_=Import.finished_at,
    )
    return values


def _has_active() -> ColumnElement[bool]:
    return or_(*(func.coalesce(getattr(Import, p), "").in_(ACTIVE) for p in PHASES))


async def _cancel_where(
    session: AsyncSession,
    condition: ColumnElement[bool],
    reason: Literal["user", "account_reset"],
    correlation_id: uuid.UUID | None,
) -> list[Import]:
    rows = list(
        (
            await session.scalars(
                update(Import)
                .where(condition, _has_active())
                .values(**_cancel_values(reason))
                .returning(Import)
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    for row in rows:
        if any(getattr(row, p) == "cancelling" for p in PHASES):
            continue  # the worker that stops on `cancelling` publishes the event
        generation = await fence.current_generation(session, row.account_id)
        envelope = build_envelope(
            subjects.IMPORT_CANCELLED,
            ImportCancelled(import_id=row.id, reason=reason, cancelled_in_phase=None),
            account_id=row.account_id,
            generation=generation,
            correlation_id=correlation_id,
        )
        await outbox.add(session, subjects.IMPORT_CANCELLED, envelope)
    return rows


async def request_cancel(
    session: AsyncSession,
    *,
    account_id: int,
    import_id: int,
    reason: Literal["user", "account_reset"] = "user",
    correlation_id: uuid.UUID | None = None,
) -> Import:
    """Cancel an import (importer.md §10): pending phases → cancelled, processing → cancelling.

    The key is wiped in the same statement. When no phase is running, the import is cancelled
    outright and `kith.evt.import.cancelled` is queued here; otherwise the worker publishes it
    when it stops. The gateway then sends `kith.cmd.import.cancel` to wake a waiting worker.

    Raises:
        NotFound: no such import in this account.
        Conflict: nothing left to cancel (code `import-not-active`).
    """
    rows = await _cancel_where(
        session,
        and_(Import.id == import_id, Import.account_id == account_id),
        reason,
        correlation_id,
    )
    if rows:
        return rows[0]
    await get(session, account_id=account_id, import_id=import_id)  # NotFound first
    msg = f"import {import_id} has nothing left to cancel"
    raise Conflict(msg, code="import-not-active")


async def cancel_account_imports(
    session: AsyncSession,
    *,
    account_id: int,
    reason: Literal["user", "account_reset"] = "account_reset",
    correlation_id: uuid.UUID | None = None,
) -> list[Import]:
    """Cancel every active phase of every import of the account (reset.md §4.2)."""
    return await _cancel_where(session, Import.account_id == account_id, reason, correlation_id)


async def force_stale_cancelling(
    session: AsyncSession,
    *,
    account_id: int | None = None,
    stale_after_seconds: int = CANCELLING_STALE_SECONDS,
) -> list[Import]:
    """Force `cancelling` phases whose worker stopped heartbeating to `cancelled`.

    Returns the rows changed. No event: the cancel function already announced the cancel, and
    the dead worker would have been the one to publish the final counts.
    """
    stale = or_(
        Import.heartbeat_at.is_(None),
        Import.heartbeat_at < func.now() - dt.timedelta(seconds=stale_after_seconds),
    )
    cancelling = or_(*(getattr(Import, p) == "cancelling" for p in PHASES))
    condition = and_(cancelling, stale)
    if account_id is not None:
        condition = and_(condition, Import.account_id == account_id)
    values: dict[str, Any] = {
        p: case((getattr(Import, p) == "cancelling", "cancelled"), else_=getattr(Import, p))
        for p in PHASES
    }
    values.update(api_key_encrypted=None, lease_owner=None, finished_at=func.now())
    return list(
        (
            await session.scalars(
                update(Import)
                .where(condition)
                .values(**values)
                .returning(Import)
                .execution_options(populate_existing=True)
            )
        ).all()
    )


def phase_of(checkpoint: Mapping[str, Any]) -> ImportPhase | None:
    """The crawl phase a checkpoint names (for `cancelled_in_phase` and `failed.phase`)."""
    value = checkpoint.get("phase")
    return value if isinstance(value, str) else None  # type: ignore[return-value]


# --- sweeping ------------------------------------------------------------------------------------

KEY_EXPIRED: Final = "API key expired"
WORKER_STOPPED: Final = "importer stopped; start the import again"


@dataclass(frozen=True, slots=True)
class SweepResult:
    key_expired: list[int]
    stalled: list[int]
    cancelled: list[int]
    checks_removed: int


async def sweep(
    session: AsyncSession,
    *,
    key_ttl_hours: int,
    stalled_after_seconds: int = 30 * 60,
    cancelling_after_seconds: int = CANCELLING_STALE_SECONDS,
) -> SweepResult:
    """The importer's periodic sweep (importer.md §3, §10), in the caller's transaction.

    - phases still pending/processing whose heartbeat (or creation) is older than the key TTL
      → failed, "API key expired" (the key goes with them);
    - a `processing` phase whose heartbeat is older than 30 min → failed, "importer stopped";
    - a `cancelling` phase whose heartbeat is older than 60 s → cancelled;
    - expired connection checks → deleted.
    One `kith.evt.import.failed` is queued per failed import.
    """
    from kith_common.db.models import ImportConnectionCheck
    from kith_common.events.payloads.imports import ImportFailed

    beat = func.coalesce(Import.heartbeat_at, Import.created_at)
    ttl = func.now() - dt.timedelta(hours=key_ttl_hours)
    stalled = func.now() - dt.timedelta(seconds=stalled_after_seconds)
    failed: dict[int, tuple[Import, str]] = {}
    for reason, condition, statuses in (
        (KEY_EXPIRED, beat < ttl, ACTIVE),
        (WORKER_STOPPED, beat < stalled, ("processing",)),
    ):
        values: dict[str, Any] = {
            p: case((getattr(Import, p).in_(statuses), "failed"), else_=getattr(Import, p))
            for p in PHASES
        }
        # a failed crawl also ends the follow-ups that never started
        for follow_up in ("misc_status", "media_status"):
            column = getattr(Import, follow_up)
            values[follow_up] = case(
                (column.in_(statuses), "failed"),
                (and_(Import.status.in_(statuses), column == "pending"), "cancelled"),
                else_=column,
            )
        values.update(
            api_key_encrypted=None, lease_owner=None, error=reason, finished_at=func.now()
        )
        rows = (
            await session.scalars(
                update(Import)
                .where(condition, or_(*(getattr(Import, p).in_(statuses) for p in PHASES)))
                .values(**values)
                .returning(Import)
                .execution_options(populate_existing=True)
            )
        ).all()
        for row in rows:
            failed.setdefault(row.id, (row, reason))
    for row, reason in failed.values():
        generation = await fence.current_generation(session, row.account_id)
        envelope = build_envelope(
            subjects.IMPORT_FAILED,
            ImportFailed(import_id=row.id, phase=None, reason=reason),
            account_id=row.account_id,
            generation=generation,
            correlation_id=None,
        )
        await outbox.add(session, subjects.IMPORT_FAILED, envelope)
    forced = await force_stale_cancelling(session, stale_after_seconds=cancelling_after_seconds)
    removed = await session.execute(
        delete(ImportConnectionCheck).where(ImportConnectionCheck.expires_at < func.now())
    )
    return SweepResult(
        key_expired=[i for i, (_, r) in failed.items() if r == KEY_EXPIRED],
        stalled=[i for i, (_, r) in failed.items() if r == WORKER_STOPPED],
        cancelled=[r.id for r in forced],
        checks_removed=int(getattr(removed, "rowcount", 0) or 0),
    )


__all__ += ["KEY_EXPIRED", "WORKER_STOPPED", "SweepResult", "sweep"]
