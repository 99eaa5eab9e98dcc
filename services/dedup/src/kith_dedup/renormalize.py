"""The phone renormalize backfill and the key-version check (dedup.md §2, §6.6).

The backfill walks the account's contact_fields, then its addresses, by `id > cursor` in
batches, one fenced transaction per batch, saving the cursor (and the running counts) in
dedup_key_state in the same transaction, so a redelivered command resumes after the last
committed batch and a rerun changes nothing. Values move only for phones (to
`phones.normalize` with the account's region); keys are re-derived for every row, always
through `contact_fields.prepare`, the one place values and keys are computed.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import matchkeys, phones
from kith_common.bus import outbox
from kith_common.contact_fields import EmptyFieldValue, prepare, prepare_address
from kith_common.db.models import (
    Account,
    AccountReset,
    Address,
    ContactField,
    ContactFieldType,
    DedupKeyState,
)
from kith_common.events.envelope import Payload
from kith_common.events.payloads.dedup import ScanDuplicates
from kith_common.events.payloads.phones import PhonesRenormalized, RenormalizePhones
from kith_common.events.registry import build_envelope
from kith_common.events.subjects import DEDUP_SCAN, PHONES_RENORMALIZE, PHONES_RENORMALIZED
from kith_dedup.metrics import PHONES_ROWS

__all__ = [
    "BATCH_SIZE",
    "Backfill",
    "queue_renormalize_for_stale_accounts",
    "renormalize_account",
    "renormalize_envelope_id",
]

log = structlog.get_logger(__name__)

BATCH_SIZE = 500
_TABLES = ("contact_fields", "addresses")
UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Publish = Callable[[AsyncSession, str, Payload], Awaitable[None]]


@dataclass(slots=True)
class Backfill:
    """The saved cursor: which table, the last id done, and the counts so far."""

    table: str = "contact_fields"
    last_id: int = 0
    scanned: int = 0
    updated: int = 0
    keys_changed: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "last_id": self.last_id,
            "scanned": self.scanned,
            "updated": self.updated,
            "keys_changed": self.keys_changed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Backfill:
        return cls(**data) if data else cls()


def renormalize_envelope_id(account_id: int, key_version: str = matchkeys.KEY_VERSION) -> uuid.UUID:
    """uuid5(account, KEY_VERSION): replicas starting together publish one command (§2)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"kith:renormalize:{account_id}:{key_version}")


async def renormalize_account(
    account_id: int,
    *,
    unit_of_work: UnitOfWork,
    heartbeat: Callable[[], Awaitable[None]],
    publish: Publish,
    batch_size: int = BATCH_SIZE,
) -> PhonesRenormalized:
    """Run (or resume) the account's backfill to the end; publishes the outcome events.

    Raises:
        StaleGeneration: from `unit_of_work` once the account was reset (the committed
            batches stay; they are correct under any generation).
    """
    while True:
        await heartbeat()
        async with unit_of_work() as session:
            state = await _state(session, account_id)
            cursor = Backfill.from_json(state.backfill_cursor)
            region = phones.region_for_locale(
                await session.scalar(select(Account.locale).where(Account.id == account_id))
            )
            if cursor.table == "contact_fields":
                if await _field_batch(session, account_id, cursor, region, batch_size):
                    cursor.table, cursor.last_id = "addresses", 0
            elif await _address_batch(session, account_id, cursor, batch_size):
                return await _finish(session, state, cursor, publish)
            state.backfill_cursor = cursor.as_json()


async def _state(session: AsyncSession, account_id: int) -> DedupKeyState:
    await session.execute(
        pg_insert(DedupKeyState).values(account_id=account_id).on_conflict_do_nothing()
    )
    return (
        await session.execute(
            select(DedupKeyState).where(DedupKeyState.account_id == account_id).with_for_update()
        )
    ).scalar_one()


async def _field_batch(
    session: AsyncSession, account_id: int, cursor: Backfill, region: str | None, size: int
) -> bool:
    rows = (
        await session.execute(
            select(
                ContactField.id,
                ContactField.value,
                ContactField.match_key,
                ContactFieldType.kind,
            )
            .join(ContactFieldType, ContactFieldType.id == ContactField.contact_field_type_id)
            .where(ContactField.account_id == account_id, ContactField.id > cursor.last_id)
            .order_by(ContactField.id)
            .limit(size)
        )
    ).all()
    for row in rows:
        cursor.scanned += 1
        try:
            prepared = prepare(row.kind, row.value, region)
        except EmptyFieldValue:
            continue
        new_value = prepared.value if row.kind == "phone" else row.value
        value_changed = new_value != row.value
        key_changed = prepared.match_key != row.match_key
        if value_changed:
            await session.execute(
                update(ContactField)
                .where(ContactField.id == row.id)
                .values(value=new_value, match_key=prepared.match_key)
            )
        elif key_changed:
            # updated_at moves only with the value (§6.6).
            await session.execute(
                update(ContactField)
                .where(ContactField.id == row.id)
                .values(match_key=prepared.match_key, updated_at=ContactField.updated_at)
            )
        cursor.updated += value_changed
        cursor.keys_changed += key_changed
    if rows:
        cursor.last_id = rows[-1].id
    _count(len(rows))
    return len(rows) < size


async def _address_batch(
    session: AsyncSession, account_id: int, cursor: Backfill, size: int
) -> bool:
    rows = (
        await session.execute(
            select(Address.id, Address.line1, Address.postal_code, Address.match_key)
            .where(Address.account_id == account_id, Address.id > cursor.last_id)
            .order_by(Address.id)
            .limit(size)
        )
    ).all()
    for row in rows:
        cursor.scanned += 1
        key = prepare_address(row.line1, row.postal_code)
        if key != row.match_key:
            cursor.keys_changed += 1
            await session.execute(
                update(Address)
                .where(Address.id == row.id)
                .values(match_key=key, updated_at=Address.updated_at)
            )
    if rows:
        cursor.last_id = rows[-1].id
    _count(len(rows))
    return len(rows) < size


def _count(scanned: int) -> None:
    PHONES_ROWS.labels("scanned").inc(scanned)


async def _finish(
    session: AsyncSession, state: DedupKeyState, cursor: Backfill, publish: Publish
) -> PhonesRenormalized:
    state.key_version = matchkeys.KEY_VERSION
    state.backfill_cursor = None
    state.finished_at = await session.scalar(select(func.now()))
    result = PhonesRenormalized(
        account_id=state.account_id,
        scanned=cursor.scanned,
        updated=cursor.updated,
        keys_changed=cursor.keys_changed,
    )
    await publish(session, PHONES_RENORMALIZED, result)
    if cursor.keys_changed:
        await publish(
            session,
            DEDUP_SCAN,
            ScanDuplicates(account_id=state.account_id, trigger="renormalize"),
        )
    PHONES_ROWS.labels("updated").inc(cursor.updated)
    PHONES_ROWS.labels("keys_changed").inc(cursor.keys_changed)
    log.info(
        "phones_renormalized",
        scanned=cursor.scanned,
        updated=cursor.updated,
        keys_changed=cursor.keys_changed,
    )
    return result


async def queue_renormalize_for_stale_accounts(session: AsyncSession) -> int:
    """On start: one renormalize per account whose key_version differs or is missing (§2).

    Accounts under reset are skipped (their rows are being deleted). The envelope id is
    uuid5(account, KEY_VERSION), so every replica publishes the same message and JetStream's
    duplicate window and the inbox keep one.
    """
    resetting = select(AccountReset.account_id).where(AccountReset.status == "running")
    current = select(DedupKeyState.account_id).where(
        DedupKeyState.key_version == matchkeys.KEY_VERSION
    )
    rows = (
        await session.execute(
            select(Account.id, Account.generation).where(
                Account.id.not_in(resetting), Account.id.not_in(current)
            )
        )
    ).all()
    for account_id, generation in rows:
        envelope = build_envelope(
            PHONES_RENORMALIZE,
            RenormalizePhones(account_id=account_id),
            account_id=account_id,
            generation=generation,
            id=renormalize_envelope_id(account_id),
        )
        try:
            async with session.begin_nested():
                await outbox.add(session, PHONES_RENORMALIZE, envelope)
        except IntegrityError:
            continue  # another replica (or an earlier start) queued this very message
    if rows:
        log.info("phones_renormalize_queued", accounts=len(rows))
    return len(rows)
