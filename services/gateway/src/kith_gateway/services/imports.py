"""Import use cases: start (Monica or vCard), history, cancel, media retry, connection check.

The import row, the encrypted key and the start command are written by `kith_common.imports`
in this request's transaction. The gateway never calls a Monica URL: the connection check
stores the encrypted key in `import_connection_checks` and asks the importer over core NATS
with only the check id. The key is never logged, echoed, or put on the bus.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Final

import structlog
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import imports, throttle
from kith_common.crypto import decrypt_secret, encrypt_secret
from kith_common.db.models import Import
from kith_common.errors import Conflict, Transient
from kith_common.events import subjects
from kith_common.events.payloads.imports import CancelImport, CheckConnection
from kith_common.events.payloads.photos import SyncPhotos
from kith_common.events.registry import build_envelope, parse_reply
from kith_common.monica.urls import checked_api_url
from kith_common.storage import open_storage
from kith_common.storage.base import account_prefix
from kith_gateway import pagination
from kith_gateway.context import GatewayContext
from kith_gateway.deps import Principal
from kith_gateway.middleware import correlation_id
from kith_gateway.problems import TooManyRequests
from kith_gateway.repositories import audit
from kith_gateway.repositories import imports as repo
from kith_gateway.schemas.common import Page, PageMeta
from kith_gateway.schemas.imports import (
    ConnectionCheckIn,
    ConnectionCheckOut,
    ImportAccepted,
    ImportOut,
    ImportProgressOut,
    MonicaImportIn,
)
from kith_gateway.services.guards import writable
from kith_gateway.services.publishing import publish

log = structlog.get_logger(__name__)

CHECK_TTL = dt.timedelta(minutes=10)
CHECK_TIMEOUT_SECONDS = 15.0
VCARD_SUFFIXES = (".vcf", ".vcard")
_CURSOR = "imports"
_RETRYABLE_MEDIA = ("completed", "failed", "cancelled")


def status_url(import_id: int) -> str:
    return f"/v1/imports/{import_id}"


def import_out(row: Import) -> ImportOut:
    checkpoint = row.checkpoint or {}
    return ImportOut(
        id=row.id,
        source=row.source,  # type: ignore[arg-type]  # CHECK-constrained column
        status=row.status,
        misc_status=row.misc_status,
        media_status=row.media_status,
        cancel_reason=row.cancel_reason,
        api_url=row.api_url,
        file_name=row.file_name,
        file_size=row.file_size,
        options=row.options,
        summary=row.summary,
        sync_summary=row.sync_summary,
        progress=_progress(row, checkpoint),
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


_FINISHED: Final = frozenset({"completed", "failed", "cancelled"})


def _progress(row: Import, checkpoint: dict[str, Any]) -> ImportProgressOut:
    """The crawl's last `import.progress` numbers, which it keeps in `summary.progress`; an
    import from before it did falls back to its checkpoint and `summary.contacts`."""
    last = (row.summary or {}).get("progress")
    total = _int(checkpoint.get("total"))
    if isinstance(last, dict):
        total = _int(last.get("total"))
        current = _int(last.get("current"))
    else:
        current = _int(checkpoint.get("current")) or _int((row.summary or {}).get("contacts"))
    if current is not None and total is not None:
        current = min(current, total)
    eta = last.get("eta_seconds") if isinstance(last, dict) else None
    requests_done = _int(last.get("requests_done")) if isinstance(last, dict) else None
    estimated = _int(last.get("requests_estimated")) if isinstance(last, dict) else None
    if row.status in _FINISHED:
        # The crawl's last step named a phase and an estimate; once it has ended neither is
        # true any more, and a completed crawl went through all of its contacts.
        if row.status == "completed" and total is not None:
            current = total
        return ImportProgressOut(
            phase=None,
            current=current,
            total=total,
            requests_done=requests_done,
            requests_estimated=requests_done if row.status == "completed" else estimated,
            eta_seconds=None,
        )
    return ImportProgressOut(
        phase=_str(checkpoint.get("phase")),
        current=current,
        total=total,
        requests_done=requests_done,
        requests_estimated=estimated,
        eta_seconds=float(eta) if isinstance(eta, int | float) and eta >= 0 else None,
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _api_url(ctx: GatewayContext, raw: str) -> str:
    """The normalised Monica URL; an address the importer's guard must refuse is a 422 now."""
    settings = ctx.settings
    return checked_api_url(
        raw,
        allow_private=settings.import_allow_private_hosts,
        allowed=settings.allowed_hosts(),
    )


async def start_monica(
    session: AsyncSession, ctx: GatewayContext, principal: Principal, body: MonicaImportIn
) -> ImportAccepted:
    await writable(session, principal.account_id)
    row = await imports.create_import(
        session,
        account_id=principal.account_id,
        user_id=principal.user_id,
        encryption_key=ctx.settings.encryption_key(),
        source="monica_api",
        api_url=_api_url(ctx, body.api_url),
        api_key=body.api_key,
        options=body.options,
        correlation_id=correlation_id(),
    )
    await session.commit()
    log.info("import_requested", import_id=row.id, source="monica_api")
    return ImportAccepted(id=row.id, status_url=status_url(row.id))


async def start_vcard(
    session: AsyncSession,
    ctx: GatewayContext,
    principal: Principal,
    *,
    file_name: str,
    data: bytes,
    options: dict[str, Any],
) -> ImportAccepted:
    """Store the upload, then create the import; a refused import deletes the file again."""
    await writable(session, principal.account_id)
    imports.validate_options(options)
    suffix = next(s for s in VCARD_SUFFIXES if file_name.lower().endswith(s))
    key = f"{account_prefix(principal.account_id)}imports/{uuid.uuid4()}{suffix}"
    storage = open_storage(ctx.settings.storage_url)
    await storage.put(key, data)
    try:
        row = await imports.create_import(
            session,
            account_id=principal.account_id,
            user_id=principal.user_id,
            encryption_key=ctx.settings.encryption_key(),
            source="vcard",
            options=options,
            file_name=file_name[:255],
            file_size=len(data),
            file_storage_key=key,
            correlation_id=correlation_id(),
        )
        await session.commit()
    except BaseException:
        await storage.delete(key)
        raise
    log.info("import_requested", import_id=row.id, source="vcard", file_size=len(data))
    return ImportAccepted(id=row.id, status_url=status_url(row.id))


async def list_imports(
    session: AsyncSession,
    principal: Principal,
    cursor: str | None,
    limit: int,
    *,
    with_total: bool = False,
) -> Page[ImportOut]:
    key = pagination.decode(cursor, _CURSOR, {"i": int})
    account_id = principal.account_id

    async def older(k: dict[str, Any] | None) -> Sequence[Import]:
        return await repo.page(session, account_id, k["i"] if k else None, limit)

    async def newer(k: dict[str, Any]) -> Sequence[Import]:
        return await repo.page(session, account_id, None, limit, newer_than=k["i"])

    found = await pagination.window(key, limit, older, newer)
    rows = found.rows
    meta = PageMeta(
        next_cursor=pagination.encode(_CURSOR, i=rows[-1].id) if found.has_next and rows else None,
        has_more=found.has_next,
        prev_cursor=pagination.encode_before(_CURSOR, i=rows[0].id)
        if found.has_prev and rows
        else None,
        total=await repo.count(session, account_id) if with_total else None,
    )
    return Page(data=[import_out(r) for r in rows], meta=meta)


async def get_import(session: AsyncSession, principal: Principal, import_id: int) -> ImportOut:
    return import_out(
        await imports.get(session, account_id=principal.account_id, import_id=import_id)
    )


async def cancel(session: AsyncSession, principal: Principal, import_id: int) -> ImportAccepted:
    generation = await writable(session, principal.account_id)
    row = await imports.request_cancel(
        session,
        account_id=principal.account_id,
        import_id=import_id,
        reason="user",
        correlation_id=correlation_id(),
    )
    if "cancelling" in (row.status, row.misc_status, row.media_status):
        # Wakes a worker waiting on the rate limiter; a running phase also sees `cancelling`.
        await publish(
            session,
            subjects.IMPORT_CANCEL,
            CancelImport(import_id=row.id),
            account_id=principal.account_id,
            generation=generation,
        )
    await audit.add(
        session,
        account_id=principal.account_id,
        user_id=principal.user_id,
        user_name=principal.name,
        event="import_cancelled",
        metadata={"import_id": row.id},
    )
    await session.commit()
    return ImportAccepted(id=row.id, status_url=status_url(row.id))


async def retry_media(
    session: AsyncSession, ctx: GatewayContext, principal: Principal, import_id: int, api_key: str
) -> ImportAccepted:
    """Media phase of a finished Monica import → pending again, key stored until it ends."""
    generation = await writable(session, principal.account_id)
    row = await imports.get(session, account_id=principal.account_id, import_id=import_id)
    if row.source != "monica_api" or row.status != "completed":
        raise Conflict(
            "only a completed Monica import can sync media again", code="import-not-finished"
        )
    moved = await imports.move(
        session,
        row.id,
        "media_status",
        "pending",
        only_from=_RETRYABLE_MEDIA,
        extra={
            "api_key_encrypted": encrypt_secret(ctx.settings.encryption_key(), api_key.strip()),
            "finished_at": None,
        },
    )
    if moved is None:
        raise Conflict(
            "the media sync of this import is running or was never asked for",
            code="media-sync-not-retryable",
        )
    await publish(
        session,
        subjects.PHOTOS_SYNC,
        SyncPhotos(import_id=row.id),
        account_id=principal.account_id,
        generation=generation,
    )
    await session.commit()
    return ImportAccepted(id=row.id, status_url=status_url(row.id))


async def check_connection(
    session: AsyncSession, ctx: GatewayContext, principal: Principal, body: ConnectionCheckIn
) -> ConnectionCheckOut:
    generation = await writable(session, principal.account_id)
    # Each check costs an importer task and a request to a server the user names: bounded per
    # account (the importer also bounds them per process and spaces them per Monica host).
    wait = await throttle.admit(
        session,
        f"gateway:check:{principal.account_id}",
        per_window=ctx.settings.connection_checks_per_minute,
        window_seconds=60.0,
    )
    if wait:
        raise TooManyRequests(
            f"at most {ctx.settings.connection_checks_per_minute} connection checks a minute; "
            f"try again in {wait} s",
            retry_after=wait,
        )
    check_id = uuid.uuid4()
    await repo.add_check(
        session,
        check_id=check_id,
        account_id=principal.account_id,
        api_url=_api_url(ctx, body.api_url),
        api_key_encrypted=encrypt_secret(ctx.settings.encryption_key(), body.api_key.strip()),
        expires_at=dt.datetime.now(dt.UTC) + CHECK_TTL,
    )
    await session.commit()
    envelope = build_envelope(
        subjects.RPC_IMPORT_CHECK_CONNECTION,
        CheckConnection(check_id=check_id),
        account_id=principal.account_id,
        generation=generation,
        correlation_id=correlation_id(),
    )
    nc = await ctx.nats.client()
    try:
        reply = await nc.request(
            ctx.layout.subject(subjects.RPC_IMPORT_CHECK_CONNECTION),
            envelope.model_dump_json().encode(),
            timeout=CHECK_TIMEOUT_SECONDS,
        )
    except (NatsTimeout, NoRespondersError, TimeoutError) as err:
        await repo.drop_check(session, check_id)
        await session.commit()
        log.warning("connection_check_unanswered", check_id=str(check_id))
        raise Transient("the importer did not answer the connection check") from err
    data = parse_reply(subjects.RPC_IMPORT_CHECK_CONNECTION, reply.data).data
    return ConnectionCheckOut.model_validate(data.model_dump())


async def save_wizard_draft(
    session: AsyncSession, ctx: GatewayContext, principal: Principal, api_url: str, api_key: str
) -> str:
    """Keep a checked URL and key server-side for the wizard's next step; its opaque id.

    The console page then carries only this id (never the key) and the draft expires with
    the connection-check TTL. Commits.
    """
    draft_id = uuid.uuid4()
    await repo.add_check(
        session,
        check_id=draft_id,
        account_id=principal.account_id,
        api_url=_api_url(ctx, api_url),
        api_key_encrypted=encrypt_secret(ctx.settings.encryption_key(), api_key.strip()),
        expires_at=dt.datetime.now(dt.UTC) + CHECK_TTL,
    )
    await session.commit()
    return str(draft_id)


async def take_wizard_draft(
    session: AsyncSession, ctx: GatewayContext, principal: Principal, draft: str
) -> tuple[str, str] | None:
    """The draft's (URL, key), deleted in the caller's transaction; None if gone or expired."""
    try:
        draft_id = uuid.UUID(draft)
    except ValueError:
        return None
    row = await repo.take_draft(session, draft_id, principal.account_id)
    if row is None:
        return None
    return row.api_url, decrypt_secret(ctx.settings.decryption_keys(), row.api_key_encrypted)
