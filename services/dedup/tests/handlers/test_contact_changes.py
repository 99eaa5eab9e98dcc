"""contact.* events → one coalesced incremental scan per burst, with evidence (issue 18)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import Contact, DedupDirtyContact, DuplicateCandidate, Outbox
from kith_common.dedup.testing import Seeder
from kith_common.events.payloads.contacts import ContactDeleted, ContactUpdated
from kith_common.events.registry import build_envelope
from kith_common.events.subjects import CONTACT_DELETED, CONTACT_UPDATED
from kith_common.service import Runtime
from kith_common.testing import eventually

Send = Callable[[str, Any], Awaitable[None]]


async def _state(sessions: async_sessionmaker[AsyncSession], account_id: int) -> dict[str, Any]:
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(DuplicateCandidate).where(DuplicateCandidate.account_id == account_id)
            )
        ).all()
        scans = (
            await session.scalars(
                select(Outbox.envelope).where(
                    Outbox.account_id == account_id,
                    Outbox.subject == "kith.evt.dedup.scan.completed",
                )
            )
        ).all()
        dirty = (
            await session.scalars(
                select(DedupDirtyContact.contact_id).where(
                    DedupDirtyContact.account_id == account_id
                )
            )
        ).all()
    return {
        "pairs": {(r.contact_id, r.duplicate_contact_id): r for r in rows},
        "scans": scans,
        "dirty": dirty,
    }


async def test_a_burst_of_contact_events_is_scanned_once_with_evidence(
    dedup: Runtime, send: Send, seed: Seeder, session_factory: Any
) -> None:
    async with seed.session.begin():
        smith = await seed.named("Jonathan Whitfield")
        smithe = await seed.named("Jonathan Whitfeld")
        alice = await seed.named("Alice Berg")
        alice2 = await seed.named("Bob Unrelated")
        await seed.field(alice, "Email", "alice@example.com")
        await seed.field(alice2, "Email", "ALICE@example.com ")
        others = await seed.many_named([f"Person {i:03d} Q" for i in range(30)])

    async def event(subject: str, contact_id: int) -> None:
        payload: ContactUpdated | ContactDeleted = (
            ContactUpdated(contact_id=contact_id, changed=["last_name"])
            if subject == CONTACT_UPDATED
            else ContactDeleted(contact_id=contact_id)
        )
        envelope = build_envelope(
            subject, payload, account_id=seed.account_id, generation=seed.generation
        )
        await send(subject, envelope)

    # A script edits 34 contacts in a burst.
    for cid in (smithe, alice2, *others, smith):
        await event(CONTACT_UPDATED, cid)

    async def scanned() -> dict[str, Any] | None:
        state = await _state(session_factory, seed.account_id)
        wanted = {tuple(sorted(p)) for p in ((smith, smithe), (alice, alice2))}
        return state if wanted <= set(state["pairs"]) and not state["dirty"] else None

    state = await eventually(scanned, timeout=20)
    assert 1 <= len(state["scans"]) <= 4  # coalesced: far fewer runs than 34 events
    assert all(s["data"]["trigger"] == "contact_change" for s in state["scans"])
    typo = state["pairs"][tuple(sorted((smith, smithe)))]
    email = state["pairs"][tuple(sorted((alice, alice2)))]
    assert typo.status == email.status == "pending"
    assert typo.evidence["name"]["level"] == "close"
    assert email.evidence["email"]["outcome"] == "agree"
    assert email.evidence["name"]["outcome"] == "disagree"
    assert 0 < typo.confidence < 1
    assert 0 < email.confidence < 1

    # The contact is trashed: its pending pair becomes obsolete on the event.
    async with seed.session.begin():
        contact = await seed.session.get(Contact, smithe)
        assert contact is not None
        contact.deleted_at = dt.datetime.now(dt.UTC)
    await event(CONTACT_DELETED, smithe)

    async def obsolete() -> bool:
        state = await _state(session_factory, seed.account_id)
        return state["pairs"][tuple(sorted((smith, smithe)))].status == "obsolete"

    await eventually(obsolete, timeout=20)
