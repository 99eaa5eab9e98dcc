"""Scan and renormalize commands and the import-completed event over real NATS (§3.5, §6.6)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import (
    DedupKeyState,
    DuplicateCandidate,
    Import,
    ImportRecord,
    Outbox,
)
from kith_common.dedup.testing import Seeder
from kith_common.events.payloads.dedup import ScanDuplicates
from kith_common.events.payloads.imports import ImportCompleted, ImportCounts, ImportOptions
from kith_common.events.payloads.phones import RenormalizePhones
from kith_common.events.registry import build_envelope
from kith_common.events.subjects import DEDUP_SCAN, IMPORT_COMPLETED, PHONES_RENORMALIZE
from kith_common.service import Runtime
from kith_common.testing import eventually

Send = Callable[[str, Any], Awaitable[None]]


async def pending(sessions: async_sessionmaker[AsyncSession], account_id: int) -> list[Any]:
    async with sessions() as session:
        rows = await session.scalars(
            select(DuplicateCandidate).where(
                DuplicateCandidate.account_id == account_id,
                DuplicateCandidate.status == "pending",
            )
        )
        return list(rows)


async def completed(sessions: async_sessionmaker[AsyncSession], account_id: int) -> list[Any]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Outbox.envelope).where(
                Outbox.account_id == account_id,
                Outbox.subject == "kith.evt.dedup.scan.completed",
            )
        )
        return list(rows)


async def test_scan_command_writes_pairs_and_reports_counts(
    dedup: Runtime, send: Send, seed: Seeder, session_factory: Any
) -> None:
    async with seed.session.begin():
        await seed.named("John Smith")
        await seed.named("John Smithe")
    envelope = build_envelope(
        DEDUP_SCAN,
        ScanDuplicates(account_id=seed.account_id, trigger="api", requested_by=seed.user_id),
        account_id=seed.account_id,
        generation=seed.generation,
    )
    await send(DEDUP_SCAN, envelope)
    events = await eventually(lambda: completed(session_factory, seed.account_id), timeout=20)
    data = events[0]["data"]
    assert data["scan_id"] == str(envelope.id)
    assert (data["mode"], data["trigger"], data["import_id"]) == ("full", "api", None)
    assert (data["contacts_considered"], data["pairs_found"], data["new_candidates"]) == (2, 1, 1)
    assert data["pairs_by_signal"]["name_match"] == 1
    assert data["duration_ms"] >= 0
    assert len(await pending(session_factory, seed.account_id)) == 1
    async with session_factory() as session:
        state = await session.get(DedupKeyState, seed.account_id)
    assert state is not None
    assert state.scanned_at is not None  # the console's "Scan running…" ends on it
    assert state.live_contacts == 2


async def test_older_generation_scan_command_writes_nothing(
    dedup: Runtime, send: Send, seed: Seeder, session_factory: Any
) -> None:
    async with seed.session.begin():
        await seed.named("John Smith")
        await seed.named("John Smithe")
    stale = build_envelope(
        DEDUP_SCAN,
        ScanDuplicates(account_id=seed.account_id, trigger="api"),
        account_id=seed.account_id,
        generation=seed.generation - 1,
    )
    fresh = build_envelope(
        DEDUP_SCAN,
        ScanDuplicates(account_id=seed.account_id, trigger="api"),
        account_id=seed.account_id,
        generation=seed.generation,
    )
    await send(DEDUP_SCAN, stale)
    await send(DEDUP_SCAN, fresh)
    events = await eventually(lambda: completed(session_factory, seed.account_id), timeout=20)
    assert [e["data"]["scan_id"] for e in events] == [str(fresh.id)]


async def test_import_completed_runs_an_incremental_scan_of_its_contacts(
    dedup: Runtime, send: Send, seed: Seeder, session_factory: Any
) -> None:
    async with seed.session.begin():
        old = await seed.named("John Smith")
        await seed.named("Jane Doe")
        await seed.named("Jane Doee")  # a pair outside the import: not this run's business
        imp = await seed.row(Import, source="vcard", generation=seed.generation)
        new = await seed.named("John Smithe")
        await seed.row(
            ImportRecord,
            import_id=imp,
            source="vcard",
            source_entity_type="contact",
            source_entity_id="uid-1",
            local_entity_type="contact",
            local_entity_id=new,
        )
    event = build_envelope(
        IMPORT_COMPLETED,
        ImportCompleted(
            import_id=imp, source="vcard", options=ImportOptions(), counts=ImportCounts()
        ),
        account_id=seed.account_id,
        generation=seed.generation,
    )
    await send(IMPORT_COMPLETED, event)
    events = await eventually(lambda: completed(session_factory, seed.account_id), timeout=20)
    data = events[0]["data"]
    assert (data["mode"], data["trigger"], data["import_id"]) == ("incremental", "import", imp)
    assert (data["contacts_considered"], data["pairs_found"]) == (1, 1)
    rows = await pending(session_factory, seed.account_id)
    assert [(r.contact_id, r.duplicate_contact_id) for r in rows] == [(old, new)]


async def test_renormalize_command_backfills_and_triggers_a_scan(
    dedup: Runtime, send: Send, seed: Seeder, session_factory: Any
) -> None:
    async with seed.session.begin():
        type_id, _ = await seed.field_type("Phone")
        for name in ("Ann Zed", "Kofi Brun"):
            cid = await seed.named(name)
            await seed.session.execute(
                insert(ImportRecord.__table__.metadata.tables["contact_fields"]).values(
                    account_id=seed.account_id,
                    contact_id=cid,
                    contact_field_type_id=type_id,
                    value="2025550100",
                )
            )
    envelope = build_envelope(
        PHONES_RENORMALIZE,
        RenormalizePhones(account_id=seed.account_id),
        account_id=seed.account_id,
        generation=seed.generation,
    )
    await send(PHONES_RENORMALIZE, envelope)
    rows = await eventually(lambda: pending(session_factory, seed.account_id), timeout=30)
    assert [list(r.reasons) for r in rows] == [["phone_match"]]
