"""Reset admission and reads (reset.md §2, §4.1) against the real database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence, resets
from kith_common.accounts import create_account
from kith_common.bus import outbox
from kith_common.db.models import (
    Account,
    AccountReset,
    AccountResetDomain,
    Import,
    Outbox,
    User,
)
from kith_common.errors import NotFound
from kith_common.events.examples import EXAMPLES
from kith_common.events.registry import build_envelope
from kith_common.events.subjects import (
    ACCOUNT_RESET,
    ACCOUNT_RESET_ACCEPTED,
    CONTACTS_MERGE,
    DEDUP_SCAN,
    IMPORT_START,
)

Sessions = async_sessionmaker[AsyncSession]
_CREATED: list[int] = []


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def _no_leftover_messages(session_factory: Sessions) -> AsyncIterator[None]:
    """No relay runs here: drop what these tests queued, or a later test's relay sends it."""
    yield
    async with session_factory() as session, session.begin():
        await session.execute(
            delete(Outbox).where(Outbox.sent_at.is_(None), Outbox.account_id.in_(_CREATED))
        )
    _CREATED.clear()


async def _account(sessions: Sessions) -> tuple[int, User]:
    async with sessions() as session, session.begin():
        account, user = await create_account(
            session, name="Reset test", email=f"reset-{uuid.uuid4().hex[:10]}@example.com"
        )
    _CREATED.append(account.id)
    return account.id, user


async def _admit(sessions: Sessions, account_id: int, user: User, **kw: object) -> resets.Admission:
    async with sessions() as session, session.begin():
        return await resets.admit(
            session, account_id=account_id, user=user, correlation_id=uuid.uuid4(), **kw
        )


async def _generation(sessions: Sessions, account_id: int) -> int:
    async with sessions() as session:
        value = await fence.current_generation(session, account_id)
    assert value is not None
    return value


async def test_admission_records_the_reset_bumps_the_generation_and_queues_its_messages(
    session_factory: Sessions,
) -> None:
    account_id, user = await _account(session_factory)
    before = await _generation(session_factory, account_id)
    admission = await _admit(session_factory, account_id, user)
    assert admission.outcome == "accepted"
    assert admission.accepted
    assert admission.attempt == 1
    assert admission.generation == before + 1
    assert admission.status_url == f"/v1/account/resets/{admission.reset_id}"
    assert await _generation(session_factory, account_id) == before + 1
    async with session_factory() as session:
        reset = await session.get(AccountReset, admission.reset_id)
        assert reset is not None
        assert (reset.status, reset.stage, reset.generation) == ("running", "accepted", before + 1)
        assert reset.requested_by_id == user.id
        domains = (
            await session.scalars(
                select(AccountResetDomain).where(AccountResetDomain.reset_id == admission.reset_id)
            )
        ).all()
        assert sorted((d.domain, d.stage, d.status) for d in domains) == sorted(
            (domain, stage, "pending") for domain, stage in resets.DOMAINS
        )
        queued = (
            await session.execute(
                select(Outbox.subject, Outbox.generation, Outbox.envelope).where(
                    Outbox.account_id == account_id
                )
            )
        ).all()
    assert sorted(row.subject for row in queued) == sorted([ACCOUNT_RESET, ACCOUNT_RESET_ACCEPTED])
    for row in queued:
        assert row.generation == before + 1
        assert row.envelope["data"] == {"reset_id": admission.reset_id, "attempt": 1}


async def test_second_request_while_a_reset_runs_is_refused_with_its_id_and_no_bump(
    session_factory: Sessions,
) -> None:
    account_id, user = await _account(session_factory)
    first = await _admit(session_factory, account_id, user)
    generation = await _generation(session_factory, account_id)
    second = await _admit(session_factory, account_id, user)
    assert second.outcome == "in_progress"
    assert not second.accepted
    assert second.reset_id == first.reset_id
    assert await _generation(session_factory, account_id) == generation
    async with session_factory() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AccountReset)
            .where(AccountReset.account_id == account_id)
        )
    assert count == 1


async def test_two_requests_at_once_admit_exactly_one(session_factory: Sessions) -> None:
    account_id, user = await _account(session_factory)
    before = await _generation(session_factory, account_id)
    results = await asyncio.gather(
        _admit(session_factory, account_id, user), _admit(session_factory, account_id, user)
    )
    outcomes = sorted(r.outcome for r in results)
    assert outcomes == ["accepted", "in_progress"]
    assert results[0].reset_id == results[1].reset_id
    assert await _generation(session_factory, account_id) == before + 1


async def test_a_failed_reset_is_retried_with_the_same_id_and_next_attempt(
    session_factory: Sessions,
) -> None:
    account_id, user = await _account(session_factory)
    first = await _admit(session_factory, account_id, user)
    async with session_factory() as session, session.begin():
        await session.execute(
            text(
                "UPDATE account_resets SET status = 'failed', error = '{\"domain\": \"notes\"}'"
                " WHERE id = :id"
            ),
            {"id": first.reset_id},
        )
        await session.execute(
            text(
                "UPDATE account_reset_domains SET status = 'failed', last_error = 'boom',"
                " counts = '{\"notes\": 7}' WHERE reset_id = :id AND domain = 'notes'"
            ),
            {"id": first.reset_id},
        )
    assert await resets_running(session_factory, account_id) is None
    retry = await _admit(session_factory, account_id, user)
    assert retry.outcome == "retried"
    assert (retry.reset_id, retry.attempt) == (first.reset_id, 2)
    assert retry.generation == first.generation + 1
    async with session_factory() as session:
        view = await resets.get_reset(session, account_id, retry.reset_id)
    assert (view.status, view.attempt, view.error) == ("running", 2, None)
    notes = next(d for d in view.domains if d.domain == "notes")
    # Counts accumulate over attempts; the error is cleared.
    assert (notes.status, notes.last_error, notes.counts) == ("pending", None, {"notes": 7})


async def test_a_stalled_reset_shows_stalled_and_is_retried(session_factory: Sessions) -> None:
    account_id, user = await _account(session_factory)
    first = await _admit(session_factory, account_id, user)
    async with session_factory() as session, session.begin():
        await session.execute(
            text(
                "UPDATE account_resets SET updated_at = now() - interval '2 hours' WHERE id = :id"
            ),
            {"id": first.reset_id},
        )
        await session.execute(
            text(
                "UPDATE account_reset_domains SET updated_at = now() - interval '2 hours',"
                " heartbeat_at = now() - interval '1 hour' WHERE reset_id = :id"
            ),
            {"id": first.reset_id},
        )
    async with session_factory() as session:
        view = await resets.get_reset(session, account_id, first.reset_id, stall_seconds=900)
        fresh = await resets.get_reset(session, account_id, first.reset_id, stall_seconds=7200)
    assert view.stalled
    assert not fresh.stalled
    retry = await _admit(session_factory, account_id, user, stall_seconds=900)
    assert (retry.outcome, retry.reset_id, retry.attempt) == ("retried", first.reset_id, 2)


async def test_running_reset_names_the_reset_only_while_it_runs(session_factory: Sessions) -> None:
    account_id, user = await _account(session_factory)
    assert await resets_running(session_factory, account_id) is None
    admission = await _admit(session_factory, account_id, user)
    running = await resets_running(session_factory, account_id)
    assert running is not None
    assert running.reset_id == admission.reset_id
    assert running.status_url == admission.status_url
    async with session_factory() as session, session.begin():
        await session.execute(
            text("UPDATE account_resets SET status = 'completed', stage = 'done' WHERE id = :id"),
            {"id": admission.reset_id},
        )
    assert await resets_running(session_factory, account_id) is None


async def test_another_accounts_reset_is_not_found_and_not_listed(
    session_factory: Sessions,
) -> None:
    account_a, user_a = await _account(session_factory)
    account_b, user_b = await _account(session_factory)
    reset_a = await _admit(session_factory, account_a, user_a)
    # A reset of A does not block one of B.
    reset_b = await _admit(session_factory, account_b, user_b)
    assert reset_b.outcome == "accepted"
    async with session_factory() as session:
        with pytest.raises(NotFound):
            await resets.get_reset(session, account_b, reset_a.reset_id)
        listed = await resets.list_resets(session, account_b)
        own = await resets.get_reset(session, account_a, reset_a.reset_id)
    assert [view.id for view in listed] == [reset_b.reset_id]
    assert [d.domain for d in own.domains] == [domain for domain, _ in resets.DOMAINS]
    assert own.requested_by_name == user_a.email


async def test_admission_leaves_the_account_row_as_it_was_but_generation(
    session_factory: Sessions,
) -> None:
    account_id, user = await _account(session_factory)
    async with session_factory() as session:
        before = await session.get(Account, account_id)
    await _admit(session_factory, account_id, user)
    async with session_factory() as session:
        after = await session.get(Account, account_id)
    assert before is not None
    assert after is not None
    assert (after.name, after.timezone, after.locale, after.phone_format) == (
        before.name,
        before.timezone,
        before.locale,
        before.phone_format,
    )
    assert after.generation == before.generation + 1


async def resets_running(sessions: Sessions, account_id: int) -> resets.RunningReset | None:
    async with sessions() as session:
        return await resets.running_reset(session, account_id)


async def test_admission_waits_for_a_writer_holding_the_account_and_keeps_its_rows_fenced(
    session_factory: Sessions,
) -> None:
    account_id, user = await _account(session_factory)
    generation = await _generation(session_factory, account_id)
    order: list[str] = []
    async with session_factory() as writer:
        await writer.begin()
        # A merge (any writer) holds the account row FOR SHARE in its transaction.
        await fence.hold(writer, account_id, generation)

        async def admit() -> resets.Admission:
            admission = await _admit(session_factory, account_id, user)
            order.append("admitted")
            return admission

        task = asyncio.create_task(admit())
        await asyncio.sleep(0)
        for _ in range(100):
            if await _waiting_on_lock(session_factory):
                break
            await asyncio.sleep(0.05)
        assert not task.done()
        order.append("writer committed")
        await writer.commit()
    admission = await task
    assert order == ["writer committed", "admitted"]
    assert admission.generation == generation + 1


async def _waiting_on_lock(sessions: Sessions) -> bool:
    async with sessions() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


async def test_queued_import_scan_and_merge_neither_block_nor_swallow_a_reset(
    session_factory: Sessions,
) -> None:
    account_id, user = await _account(session_factory)
    generation = await _generation(session_factory, account_id)
    async with session_factory() as session, session.begin():
        session.add(
            Import(account_id=account_id, source="vcard", generation=generation, status="pending")
        )
        for subject in (DEDUP_SCAN, CONTACTS_MERGE, IMPORT_START):
            envelope = build_envelope(
                subject, EXAMPLES[subject], account_id=account_id, generation=generation
            )
            await outbox.add(session, subject, envelope)
    admission = await _admit(session_factory, account_id, user)
    assert admission.outcome == "accepted"
    async with session_factory() as session:
        queued = (
            await session.scalars(
                select(Outbox.subject).where(
                    Outbox.account_id == account_id, Outbox.sent_at.is_(None)
                )
            )
        ).all()
    # The reset's own messages are queued beside the others; nothing was dropped.
    assert sorted(queued) == sorted(
        [DEDUP_SCAN, CONTACTS_MERGE, IMPORT_START, ACCOUNT_RESET, ACCOUNT_RESET_ACCEPTED]
    )
