"""The merge command over real NATS and PostgreSQL (dedup.md §5.1, §7 "Merge")."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import (
    AuditLog,
    Contact,
    ContactField,
    ContactMerge,
    DuplicateCandidate,
    Note,
    Outbox,
)
from kith_common.dedup.testing import Seeder, new_account
from kith_common.events.payloads.contacts import MergeContacts
from kith_common.events.registry import build_envelope
from kith_common.events.subjects import CONTACTS_MERGE
from kith_common.merge import merge_contacts
from kith_common.service import Runtime
from kith_common.testing import eventually
from kith_dedup.merges import execute_merge

Send = Callable[[str, Any], Awaitable[None]]


def command(seed: Seeder, survivor: int, loser: int, **kw: Any) -> Any:
    return build_envelope(
        CONTACTS_MERGE,
        MergeContacts(survivor_id=survivor, loser_id=loser, requested_by=seed.user_id, **kw),
        account_id=seed.account_id,
        generation=kw.pop("generation", seed.generation),
    )


async def merge_row(sessions: async_sessionmaker[AsyncSession], merge_id: uuid.UUID) -> Any:
    async with sessions() as session:
        return await session.get(ContactMerge, merge_id)


async def events(
    sessions: async_sessionmaker[AsyncSession], account_id: int, subject: str
) -> list[Any]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Outbox.envelope).where(
                Outbox.account_id == account_id, Outbox.subject == subject
            )
        )
        return list(rows)


async def test_merge_command_is_applied_once_even_if_redelivered(
    dedup: Runtime, send: Send, seed: Seeder, session_factory: Any
) -> None:
    async with seed.session.begin():
        a = await seed.contact("Alice", "Smith")
        b = await seed.contact("Alice", "S.")
        await seed.row(Note, contact_id=b, body="hello")
    envelope = command(seed, a, b)
    await send(CONTACTS_MERGE, envelope)
    await eventually(lambda: merge_row(session_factory, envelope.id), timeout=20)
    # the same command again, under another Nats-Msg-Id (past the duplicate window)
    await dedup.js.publish(  # type: ignore[union-attr]
        f"{dedup.settings.stream_prefix}.{CONTACTS_MERGE}",
        envelope.model_dump_json().encode(),
        headers={"Nats-Msg-Id": f"{envelope.id}-again"},
    )
    marker = command(seed, a, a)
    await send(CONTACTS_MERGE, marker)
    await eventually(lambda: merge_row(session_factory, marker.id), timeout=20)
    row = await merge_row(session_factory, envelope.id)
    assert (row.status, row.source) == ("done", "api")
    merged = await events(session_factory, seed.account_id, "kith.evt.contacts.merged")
    assert len(merged) == 1
    assert merged[0]["data"]["moved"]["notes"] == 1
    async with session_factory() as session:
        loser = await session.get(Contact, b)
        assert loser is not None
        assert loser.merged_into_id == a


async def test_refused_merge_is_a_failed_result_not_a_dead_letter(
    dedup: Runtime, send: Send, seed: Seeder, session_factory: Any
) -> None:
    async with seed.session.begin():
        a = await seed.contact("Alice", "Smith")
        other = await new_account(seed.session)
        foreign = await other.contact("Bob", "Jones")
    same = command(seed, a, a)
    missing = command(seed, a, foreign)
    await send(CONTACTS_MERGE, same)
    await send(CONTACTS_MERGE, missing)
    for envelope, code in ((same, "same_contact"), (missing, "not_found")):
        row = await eventually(lambda e=envelope: merge_row(session_factory, e.id), timeout=20)
        assert (row.status, row.error_code) == ("failed", code)
    failed = await events(session_factory, seed.account_id, "kith.evt.contacts.merge_failed")
    assert sorted(e["data"]["code"] for e in failed) == ["not_found", "same_contact"]


async def test_concurrent_merges_over_shared_contacts_end_consistent(
    seed: Seeder, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with seed.session.begin():
        a = await seed.contact("Alice", "Smith")
        b = await seed.contact("Alice", "S.")
        c = await seed.contact("Alice", "Smyth")
        await seed.row(Note, contact_id=b, body="b")
        await seed.row(Note, contact_id=c, body="c")

    async def run(survivor: int, loser: int) -> str:
        async with session_factory() as session, session.begin():
            return await execute_merge(
                session,
                MergeContacts(survivor_id=survivor, loser_id=loser, requested_by=seed.user_id),
                merge_id=uuid.uuid4(),
                account_id=seed.account_id,
                generation=seed.generation,
                correlation_id=None,
            )

    twice = await asyncio.gather(run(a, b), run(a, b))
    assert sorted(twice) == ["already_merged", "done"]  # waited on the lock, then refused
    async with seed.session.begin():
        a2 = await seed.contact("Bea", "Long")
        b2 = await seed.contact("Bea", "L.")
        c2 = await seed.contact("Bea", "Lung")
    chained = await asyncio.gather(run(a2, b2), run(b2, c2))
    assert chained[0] == "done"
    assert chained[1] in ("done", "already_merged")
    await run(a, c)
    async with session_factory() as session:
        live = set(
            await session.scalars(
                select(Contact.id).where(
                    Contact.account_id == seed.account_id, Contact.deleted_at.is_(None)
                )
            )
        )
        note_owners = set(
            await session.scalars(select(Note.contact_id).where(Note.account_id == seed.account_id))
        )
    expected = {a, a2, c2} if chained[1] == "already_merged" else {a, a2}
    assert live == expected
    assert note_owners <= live


async def _fixture(seed: Seeder) -> tuple[int, int]:
    a = await seed.contact("Alice", "Smith", company="Old Corp")
    b = await seed.contact("Alice", "S.", company="New Corp")
    x = await seed.contact("Xeno", "X")
    await seed.field(a, "Email", "a@x.com")
    await seed.field(b, "Email", "A@x.com")
    await seed.field(b, "Phone", "+12025550100")
    await seed.row(Note, contact_id=b, body="note")
    for low, high in ((min(a, b), max(a, b)), (min(b, x), max(b, x))):
        await seed.row(
            DuplicateCandidate,
            contact_id=low,
            duplicate_contact_id=high,
            score=0.85,
            reasons=["email_match"],
        )
    return a, b


async def _state(session: AsyncSession, account_id: int) -> dict[str, Any]:
    ids = sorted(await session.scalars(select(Contact.id).where(Contact.account_id == account_id)))
    pos = {cid: n for n, cid in enumerate(ids)}
    contacts = [
        (
            pos[c.id],
            c.display_name,
            c.company,
            c.deleted_at is not None,
            pos.get(c.merged_into_id) if c.merged_into_id else None,
        )
        for c in await session.scalars(
            select(Contact).where(Contact.account_id == account_id).order_by(Contact.id)
        )
    ]
    fields = sorted(
        (pos[cid], value, key)
        for cid, value, key in await session.execute(
            select(ContactField.contact_id, ContactField.value, ContactField.match_key).where(
                ContactField.account_id == account_id
            )
        )
    )
    notes = sorted(
        pos[cid]
        for cid in await session.scalars(
            select(Note.contact_id).where(Note.account_id == account_id)
        )
    )
    candidates = sorted(
        (pos[c.contact_id], pos[c.duplicate_contact_id], c.status, str(c.score))
        for c in await session.scalars(
            select(DuplicateCandidate).where(DuplicateCandidate.account_id == account_id)
        )
    )
    audit = [
        (a.event, sorted(a.metadata_), sorted(a.metadata_["report"]))
        for a in await session.scalars(select(AuditLog).where(AuditLog.account_id == account_id))
    ]
    event = (
        await session.scalars(
            select(Outbox.envelope).where(
                Outbox.account_id == account_id, Outbox.subject == "kith.evt.contacts.merged"
            )
        )
    ).one()
    shape = {
        k: v
        for k, v in event["data"].items()
        if k not in ("merge_id", "survivor_id", "loser_id", "source")
    }
    merges = await session.scalar(
        select(func.count()).select_from(ContactMerge).where(ContactMerge.account_id == account_id)
    )
    return {
        "contacts": contacts,
        "fields": fields,
        "notes": notes,
        "candidates": candidates,
        "audit": audit,
        "event": shape,
        "merges": merges,
    }


async def test_api_merge_and_auto_merge_leave_identical_states(
    dedup: Runtime, send: Send, db: AsyncSession, session_factory: Any
) -> None:
    async with db.begin():
        api, auto = await new_account(db), await new_account(db)
        a1, b1 = await _fixture(api)
        a2, b2 = await _fixture(auto)
    envelope = command(api, a1, b1)
    await send(CONTACTS_MERGE, envelope)
    await eventually(lambda: merge_row(session_factory, envelope.id), timeout=20)
    async with session_factory() as session, session.begin():
        await merge_contacts(
            session,
            account_id=auto.account_id,
            survivor_id=a2,
            loser_id=b2,
            source="auto_merge",
            requested_by_id=auto.user_id,
        )
    async with session_factory() as session:
        assert await _state(session, api.account_id) == await _state(session, auto.account_id)
