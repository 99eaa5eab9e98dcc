"""The phone renormalize backfill and the key-version check (dedup.md §6.6, §2, §7 "Phones")."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence, matchkeys
from kith_common.db.models import ContactField, DedupKeyState, Outbox
from kith_common.dedup.testing import Seeder, new_account
from kith_common.events.envelope import Payload
from kith_dedup.renormalize import (
    queue_renormalize_for_stale_accounts,
    renormalize_account,
    renormalize_envelope_id,
)


class Killed(Exception):
    """Stands in for a crash between two batches."""


async def backfill(
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
    *,
    die_before_batch: int | None = None,
) -> tuple[Any, list[tuple[str, Payload]], int]:
    published: list[tuple[str, Payload]] = []
    batches = 0

    @contextlib.asynccontextmanager
    async def unit_of_work() -> AsyncIterator[AsyncSession]:
        async with sessions() as session, session.begin():
            await fence.hold(session, account_id, None)
            yield session

    async def heartbeat() -> None:
        nonlocal batches
        batches += 1
        if die_before_batch is not None and batches == die_before_batch:
            raise Killed

    async def publish(session: AsyncSession, subject: str, data: Payload) -> None:
        published.append((subject, data))

    result = await renormalize_account(
        account_id, unit_of_work=unit_of_work, heartbeat=heartbeat, publish=publish
    )
    return result, published, batches


async def raw_field(seed: Seeder, cid: int, type_name: str, value: str) -> int:
    """A field written by an old release: raw value, no key."""
    type_id, _ = await seed.field_type(type_name)
    return await seed.row(
        ContactField, contact_id=cid, contact_field_type_id=type_id, value=value, match_key=None
    )


async def test_values_and_keys_are_renormalized_once(
    seed: Seeder, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with seed.session.begin():
        cid = await seed.contact("Ann", "Zed")
        bare = await raw_field(seed, cid, "Phone", "2025550100")
        done = await raw_field(seed, cid, "Phone", "+12025550100")
        plus = await raw_field(seed, cid, "Phone", "+")
        email = await raw_field(seed, cid, "Email", " Foo@BAR.com ")
        await seed.address(cid, "1 Elm St", "10001")
    result, published, _ = await backfill(session_factory, seed.account_id)
    async with session_factory() as session:
        rows = {
            r.id: (r.value, r.match_key)
            for r in await session.scalars(
                select(ContactField).where(ContactField.contact_id == cid)
            )
        }
        state = await session.get(DedupKeyState, seed.account_id)
    assert rows[bare] == ("+12025550100", "+12025550100")
    assert rows[done] == ("+12025550100", "+12025550100")
    assert rows[plus] == ("+", None)
    assert rows[email] == (" Foo@BAR.com ", "foo@bar.com")  # email value untouched
    assert (result.updated, result.keys_changed) == (1, 3)
    assert [s for s, _ in published] == ["kith.evt.phones.renormalized", "kith.cmd.dedup.scan"]
    assert state is not None
    assert (state.key_version, state.backfill_cursor) == (matchkeys.KEY_VERSION, None)
    again, published_again, _ = await backfill(session_factory, seed.account_id)
    assert (again.updated, again.keys_changed) == (0, 0)
    assert [s for s, _ in published_again] == ["kith.evt.phones.renormalized"]  # no scan


async def test_each_account_is_fixed_by_its_own_command(
    seed: Seeder, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with seed.session.begin():
        other = await new_account(seed.session)
        mine = await raw_field(seed, await seed.contact("A", "B"), "Phone", "2025550100")
        theirs = await raw_field(other, await other.contact("C", "D"), "Phone", "2025550100")
    await backfill(session_factory, seed.account_id)
    async with session_factory() as session:
        values = dict(
            (
                await session.execute(
                    select(ContactField.id, ContactField.value).where(
                        ContactField.id.in_((mine, theirs))
                    )
                )
            ).all()
        )
    assert values == {mine: "+12025550100", theirs: "2025550100"}


async def test_killed_backfill_resumes_at_the_next_batch(
    seed: Seeder, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with seed.session.begin():
        cid = await seed.contact("Many", "Phones")
        type_id, _ = await seed.field_type("Phone")
        await seed.session.execute(
            insert(ContactField),
            [
                {
                    "account_id": seed.account_id,
                    "contact_id": cid,
                    "contact_field_type_id": type_id,
                    "value": f"202555{i:04d}",
                }
                for i in range(1201)
            ],
        )
    with pytest.raises(Killed):
        await backfill(session_factory, seed.account_id, die_before_batch=2)
    async with session_factory() as session:
        state = await session.get(DedupKeyState, seed.account_id)
        assert state is not None
        assert state.backfill_cursor is not None
        assert state.backfill_cursor["scanned"] == 500
        normalized = await session.scalar(
            select(func.count())
            .select_from(ContactField)
            .where(ContactField.contact_id == cid, ContactField.value.startswith("+1"))
        )
        assert normalized == 500
    result, _, batches = await backfill(session_factory, seed.account_id)
    # batches 2 and 3 of contact_fields, then one (empty) addresses batch
    assert batches == 3
    assert (result.scanned, result.updated) == (1201, 1201)
    again, _, _ = await backfill(session_factory, seed.account_id)
    assert again.updated == 0


async def test_start_queues_one_renormalize_per_stale_account(
    seed: Seeder, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with seed.session.begin():
        current = await new_account(seed.session)
        await seed.session.execute(
            insert(DedupKeyState).values(
                account_id=current.account_id, key_version=matchkeys.KEY_VERSION
            )
        )
        await seed.session.execute(
            insert(DedupKeyState).values(account_id=seed.account_id, key_version="old")
        )
    for _ in range(2):  # two replicas starting
        async with session_factory() as session, session.begin():
            await queue_renormalize_for_stale_accounts(session)
    async with session_factory() as session:
        ids = set(
            await session.scalars(
                select(Outbox.id).where(
                    Outbox.subject == "kith.cmd.phones.renormalize",
                    Outbox.account_id.in_((seed.account_id, current.account_id)),
                )
            )
        )
    assert ids == {renormalize_envelope_id(seed.account_id)}
