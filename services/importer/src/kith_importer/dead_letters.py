"""The importer's DLQ hook (importer.md §10): a dead-lettered start or misc command fails it.

A crawl or misc phase whose command exhausted `max_deliver` (a crash loop, an error on the last
attempt that the phase could not record) would otherwise stay `processing` until the 30-minute
sweep. Its letter, read from `kith.dlq.>`, moves that phase to `failed` with a readable reason,
wipes the Monica key when no phase still needs it, drops the phase's staging and queues
`kith.evt.import.failed`, in the letter's transaction. Letters of other consumers, of another
account's import, or of a phase that already ended are ignored: replaying the same letter has
one effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import imports
from kith_common.db.models import Import
from kith_common.events import subjects
from kith_common.events.payloads.dlq import DeadLetter
from kith_common.events.payloads.imports import ImportFailed, ImportPhase
from kith_importer import queries
from kith_importer.consumers import IMPORT_MISC, IMPORT_START
from kith_importer.misc.queries import drop_misc_staging

__all__ = ["fail_dead_lettered", "reason_of"]

log = structlog.get_logger(__name__)
Publish = Callable[[str, Any, AsyncSession], Awaitable[object]]


def reason_of(letter: DeadLetter) -> str:
    """What the import's `error` says: that the importer gave up, and the last error."""
    return f"the importer gave up after {letter.deliveries} attempts: {letter.error_message}"


def _import_id(letter: DeadLetter) -> int | None:
    data = letter.envelope.get("data")
    value = data.get("import_id") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def fail_dead_lettered(
    session: AsyncSession, letter: DeadLetter, *, account_id: int | None, publish: Publish
) -> int | None:
    """Fail the import phase the letter's command ran; the import id when it did."""
    import_id = _import_id(letter)
    if letter.consumer not in (IMPORT_START.durable, IMPORT_MISC.durable) or import_id is None:
        return None
    row = await session.get(Import, import_id)
    if row is None or row.account_id != account_id:
        return None
    reason = reason_of(letter)
    phase: ImportPhase | None
    if letter.consumer == IMPORT_START.durable:
        moved = await imports.move(
            session,
            import_id,
            "status",
            "failed",
            only_from=imports.ACTIVE,
            error=reason,
            cancel_pending_follow_ups=True,
        )
        if moved is not None:
            await queries.drop_staging(session, import_id)
        phase = "vcard" if row.source == "vcard" else imports.phase_of(row.checkpoint or {})
    else:
        moved = await imports.move(
            session, import_id, "misc_status", "failed", only_from=imports.ACTIVE, error=reason
        )
        if moved is not None and moved.media_status not in imports.ACTIVE:
            await drop_misc_staging(session, import_id, keep_media=False)
        phase = "misc"
    if moved is None:
        return None
    await publish(
        subjects.IMPORT_FAILED,
        ImportFailed(import_id=import_id, phase=phase, reason=reason),
        session,
    )
    log.error("import_dead_lettered", import_id=import_id, phase=phase, reason=reason)
    return import_id
