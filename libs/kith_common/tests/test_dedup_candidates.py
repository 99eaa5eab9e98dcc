"""Candidate reads and dismissal (dedup.md §4, §7 "Listing") against real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import Contact, DuplicateCandidate, Outbox
from kith_common.dedup import (
    BadCursor,
    contact_candidates,
    count_candidates,
    dismiss_candidate,
    encode_cursor,
    list_candidates,
)
from kith_common.dedup.testing import Seeder, new_account
from kith_common.errors import Conflict, InvalidInput, NotFound


@pytest_asyncio.fixture(loop_scope="session")
async def db(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session


@pytest_asyncio.fixture(loop_scope="session")
async def seed(db: AsyncSession) -> Seeder:
    async with db.begin():
        return await new_account(db)


async def candidate(
    seed: Seeder, a: int, b: int, score: str, status: str = "pending", reasons: Any = None
) -> int:
    return int(
        await seed.session.scalar(
            insert(DuplicateCandidate)
            .values(
                account_id=seed.account_id,
                contact_id=min(a, b),
                duplicate_contact_id=max(a, b),
                score=Decimal(score),
                reasons=reasons or ["email_match"],
                status=status,
            )
            .returning(DuplicateCandidate.id)
        )
        or 0
    )


async def people(seed: Seeder, count: int) -> list[int]:
    return await seed.many_named([f"Person {i}" for i in range(count)])


async def test_default_lists_pending_only_with_both_summaries(seed: Seeder) -> None:
    async with seed.session.begin():
        a, b, c = await people(seed, 3)
        pending = await candidate(seed, a, b, "0.85", reasons=["name_match", "email_match"])
        await candidate(seed, a, c, "0.95", status="dismissed")
        other = await new_account(seed.session)
        x, y = await other.many_named(["Other One", "Other Two"])
        await candidate(other, x, y, "0.99")
    async with seed.session.begin():
        page = await list_candidates(seed.session, seed.account_id, sort="score")
        dismissed = await list_candidates(seed.session, seed.account_id, status="dismissed")
    assert [v.id for v in page.data] == [pending]
    view = page.data[0]
    assert (view.contact.id, view.duplicate_contact.id) == (a, b)
    assert view.contact.display_name == "Person 0"
    assert view.reasons == ("name_match", "email_match")
    assert [v.status for v in dismissed.data] == ["dismissed"]


async def test_pages_cover_every_row_once_despite_changes_between_requests(seed: Seeder) -> None:
    async with seed.session.begin():
        ids = await people(seed, 92)
        for i in range(45):
            await candidate(seed, ids[2 * i], ids[2 * i + 1], "0.85" if i < 30 else f"0.{60 + i}")
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        async with seed.session.begin():
            page = await list_candidates(
                seed.session, seed.account_id, limit=10, cursor=cursor, sort="score"
            )
            if pages == 1:
                # between requests: a dismissal and a new, higher pair
                await dismiss_candidate(
                    seed.session, seed.account_id, page.data[-1].id, user_id=seed.user_id
                )
                await candidate(seed, ids[90], ids[91], "0.99")
        seen.extend(v.id for v in page.data)
        keys = [(-v.score, v.id) for v in page.data]
        assert keys == sorted(keys)
        pages += 1
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert pages == 5
    assert len(seen) == len(set(seen)) == 45


async def test_bad_cursor_is_400_and_bad_limit_is_422(seed: Seeder) -> None:
    async with seed.session.begin():
        for cursor in ("not-base64!", "bm9wZQ", encode_cursor("dismissed", Decimal("0.5"), 1)):
            with pytest.raises(BadCursor):
                await list_candidates(seed.session, seed.account_id, cursor=cursor)
        for limit in (0, 201):
            with pytest.raises(InvalidInput):
                await list_candidates(seed.session, seed.account_id, limit=limit)


async def test_counts_skip_trashed_sides_and_other_accounts(seed: Seeder) -> None:
    async with seed.session.begin():
        assert await count_candidates(seed.session, seed.account_id) == {
            "pending": 0,
            "dismissed": 0,
            "merged": 0,
            "obsolete": 0,
        }
        a, b, c, d, e = await people(seed, 5)
        await candidate(seed, a, b, "0.85")
        await candidate(seed, a, c, "0.85", status="dismissed")
        await candidate(seed, d, e, "0.85")
        other = await new_account(seed.session)
        x, y = await other.many_named(["Other One", "Other Two"])
        await candidate(other, x, y, "0.99")
        await seed.session.execute(
            update(Contact).where(Contact.id == e).values(deleted_at=func.now())
        )
    async with seed.session.begin():
        counts = await count_candidates(seed.session, seed.account_id)
        banner = await contact_candidates(seed.session, seed.account_id, a)
        hidden = await list_candidates(seed.session, seed.account_id)
    assert counts == {"pending": 1, "dismissed": 1, "merged": 0, "obsolete": 0}
    assert [(v.contact.id, v.duplicate_contact.id) for v in banner] == [(a, b)]
    assert [v.duplicate_contact.id for v in hidden.data] == [b]


async def test_dismiss_moves_pending_to_dismissed_with_event(seed: Seeder) -> None:
    async with seed.session.begin():
        a, b, c, d = await people(seed, 4)
        pending = await candidate(seed, a, b, "0.85")
        merged = await candidate(seed, a, c, "0.85", status="merged")
        obsolete = await candidate(seed, a, d, "0.85", status="obsolete")
    async with seed.session.begin():
        view = await dismiss_candidate(seed.session, seed.account_id, pending, user_id=seed.user_id)
    assert view.status == "dismissed"
    assert view.resolved_at is not None
    async with seed.session.begin():
        again = await dismiss_candidate(
            seed.session, seed.account_id, pending, user_id=seed.user_id
        )
        events = await seed.session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(
                Outbox.account_id == seed.account_id,
                Outbox.subject == "kith.evt.dedup.candidate.dismissed",
            )
        )
        row = await seed.session.get(DuplicateCandidate, pending)
        assert row is not None
        assert row.resolved_by_id == seed.user_id
    assert (again.status, again.resolved_at) == ("dismissed", view.resolved_at)
    assert events == 1
    for closed in (merged, obsolete):
        async with seed.session.begin():
            with pytest.raises(Conflict):
                await dismiss_candidate(seed.session, seed.account_id, closed, user_id=None)
    async with seed.session.begin():
        other = await new_account(seed.session)
        with pytest.raises(NotFound):
            await dismiss_candidate(seed.session, other.account_id, pending, user_id=None)
