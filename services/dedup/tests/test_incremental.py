"""Incremental detection equals the full run on the pairs touching the import (dedup.md §7).

Property-based over generated accounts (bounded: the database work per example is real).
Each example builds two identical accounts, runs a full scan on both, applies the same
"import" (new contacts and edits to existing ones, recorded in import_records), then runs an
incremental scan on one and a full scan on the other: the candidate tables must be equal, and
the incremental pairs must be exactly the full run's pairs touching Q.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, update

from kith_common import fence
from kith_common.db.models import Contact, DuplicateCandidate, Import, ImportRecord
from kith_common.db.session import create_engine, session_factory
from kith_common.dedup.testing import Seeder, new_account
from kith_dedup.detection import detect
from kith_dedup.queries import focus_contacts, read_snapshot
from kith_dedup.scans import ScanRequest, run_scan

NAMES = [
    "John Smith",
    "John Smithe",
    "Jon Smith",
    "Jane Doe",
    "Jane Doee",
    "Li Na",
    "Li Nan",
    "Sam Ito",
    "Sam Itoh",
    "Ann Zed",
    "Bob Ray",
    "Иван Петров",
    "Иван Петровв",
    "王伟",
]
EMAILS = ["a@x.com", "A@X.com ", "b@x.com", "c@x.com"]
PHONES = ["+12025550100", "(202) 555-0100", "+12025550111", "N/A", "+1-555-1234"]
ADDRESSES = [("1 Elm St", "10001"), ("1  ELM st", "10001"), ("2 Oak Rd", "10001"), ("", "1")]

contact_st = st.fixed_dictionaries(
    {
        "name": st.sampled_from(NAMES),
        "emails": st.lists(st.sampled_from(EMAILS), max_size=2),
        "phones": st.lists(st.sampled_from(PHONES), max_size=2),
        "address": st.none() | st.sampled_from(ADDRESSES),
        "deleted": st.booleans(),
    }
)
world_st = st.fixed_dictionaries(
    {
        "existing": st.lists(contact_st, min_size=1, max_size=8),
        "created": st.lists(contact_st, min_size=0, max_size=3),
        "renamed": st.lists(st.tuples(st.integers(0, 7), st.sampled_from(NAMES)), max_size=2),
    }
)


async def _add(seed: Seeder, spec: dict[str, Any]) -> int:
    cid = await seed.named(spec["name"])
    for email in spec["emails"]:
        await seed.field(cid, "Email", email)
    for phone in spec["phones"]:
        await seed.field(cid, "Phone", phone)
    if spec["address"] is not None:
        await seed.address(cid, *spec["address"])
    if spec["deleted"]:
        await seed.session.execute(
            update(Contact).where(Contact.id == cid).values(deleted_at=Contact.created_at)
        )
    return cid


async def _apply_import(seed: Seeder, ids: list[int], world: dict[str, Any]) -> int:
    import_id = int(
        await seed.session.scalar(
            insert(Import)
            .values(account_id=seed.account_id, source="vcard", generation=seed.generation)
            .returning(Import.id)
        )
        or 0
    )
    touched = [await _add(seed, spec) for spec in world["created"]]
    for index, name in world["renamed"]:
        if index < len(ids):
            await seed.session.execute(
                update(Contact).where(Contact.id == ids[index]).values(display_name=name)
            )
            touched.append(ids[index])
    for n, cid in enumerate(touched):
        await seed.row(
            ImportRecord,
            import_id=import_id,
            source="vcard",
            source_entity_type="contact",
            source_entity_id=f"{n}-{cid}",
            local_entity_type="contact",
            local_entity_id=cid,
        )
    return import_id


async def _scan(sessions: Any, account_id: int, import_id: int | None) -> None:
    @contextlib.asynccontextmanager
    async def unit_of_work() -> AsyncIterator[Any]:
        async with sessions() as session, session.begin():
            await fence.hold(session, account_id, None)
            yield session

    async def nothing(*_: Any) -> None:
        return None

    request = ScanRequest(uuid.uuid4(), account_id, "api", import_id)
    await run_scan(
        request, sessions=sessions, unit_of_work=unit_of_work, heartbeat=nothing, publish=nothing
    )


async def _table(sessions: Any, seed: Seeder, ids: list[int]) -> list[tuple[Any, ...]]:
    position = {cid: n for n, cid in enumerate(ids)}
    async with sessions() as session:
        rows = await session.scalars(
            select(DuplicateCandidate).where(DuplicateCandidate.account_id == seed.account_id)
        )
        return sorted(
            (
                position[r.contact_id],
                position[r.duplicate_contact_id],
                r.status,
                r.score,
                tuple(r.reasons),
            )
            for r in rows
        )


async def _example(database_url: str, world: dict[str, Any]) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        seeds: list[Seeder] = []
        all_ids: list[list[int]] = []
        import_ids: list[int] = []
        for _ in range(2):
            async with sessions() as session, session.begin():
                seed = await new_account(session)
                ids = [await _add(seed, spec) for spec in world["existing"]]
            await _scan(sessions, seed.account_id, None)
            async with sessions() as session, session.begin():
                seed.session = session
                import_ids.append(await _apply_import(seed, ids, world))
                ids = sorted(
                    await session.scalars(
                        select(Contact.id).where(Contact.account_id == seed.account_id)
                    )
                )
            seeds.append(seed)
            all_ids.append(ids)
        incremental, full = seeds

        async with sessions() as session:
            q = await focus_contacts(session, incremental.account_id, import_ids[0])
            snapshot = await read_snapshot(session, incremental.account_id)
        by_full = detect(snapshot)
        by_incremental = detect(snapshot, focus=q)
        assert by_incremental.pairs == {
            k: v for k, v in by_full.pairs.items() if k[0] in q or k[1] in q
        }
        assert by_incremental.evaluated_outside == 0

        await _scan(sessions, incremental.account_id, import_ids[0])
        await _scan(sessions, full.account_id, None)
        assert await _table(sessions, incremental, all_ids[0]) == await _table(
            sessions, full, all_ids[1]
        )
    finally:
        await engine.dispose()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=world_st)
@example(  # Q holds the smaller side of a name pair whose larger side is outside Q
    world={
        "existing": [
            {"name": "John Smithe", "emails": [], "phones": [], "address": None, "deleted": False},
            {
                "name": "Ann Zed",
                "emails": ["a@x.com"],
                "phones": [],
                "address": None,
                "deleted": False,
            },
        ],
        "created": [
            {
                "name": "John Smith",
                "emails": ["A@X.com "],
                "phones": [],
                "address": None,
                "deleted": False,
            }
        ],
        "renamed": [(1, "Jane Doee")],
    }
)
def test_incremental_after_import_equals_full_scan(
    database_url: str, world: dict[str, Any]
) -> None:
    asyncio.run(_example(database_url, world))


async def test_incremental_in_20000_contacts_evaluates_only_pairs_touching_q(
    seed: Seeder, session_factory: Any
) -> None:
    rng = random.Random(20000)
    letters = "abcdefghijklmnopqrstuvwxyz"

    def name() -> str:
        return f"{''.join(rng.choices(letters, k=6))} {''.join(rng.choices(letters, k=7))}"

    existing = [name() for _ in range(20000)]
    async with seed.session.begin():
        await seed.many_named(existing)
        imported = await seed.many_named([*existing[:5], *(name() for _ in range(5))])
        import_id = await seed.row(Import, source="vcard", generation=seed.generation)
        for n, cid in enumerate(imported):
            await seed.row(
                ImportRecord,
                import_id=import_id,
                source="vcard",
                source_entity_type="contact",
                source_entity_id=str(n),
                local_entity_type="contact",
                local_entity_id=cid,
            )
    async with session_factory() as session:
        q = await focus_contacts(session, seed.account_id, import_id)
        snapshot = await read_snapshot(session, seed.account_id)
    detection = detect(snapshot, focus=q)
    assert len(q) == 10
    assert detection.evaluated_outside == 0
    assert detection.evaluated < 1000  # work on pairs touching Q only
    assert len(detection.pairs) >= 5  # the five re-imported copies
    assert all(low in q or high in q for low, high in detection.pairs)
