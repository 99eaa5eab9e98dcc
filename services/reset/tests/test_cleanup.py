"""The cleanup consumer contract (reset.md §5) on the real database, without the bus."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import fence
from kith_common.db.models import Contact, Outbox
from kith_common.events import subjects
from kith_common.events.registry import build_envelope
from kith_reset import cleanup, fanin
from kith_reset.domains import DOMAINS, domain
from kith_reset.job import Job
from kith_reset.testing import seed_account, snapshot
from kith_reset.tuning import Tuning

if TYPE_CHECKING:
    from .conftest import Account, ResetEnv


def _job(env: ResetEnv, account: Account, reset_id: int, generation: int) -> Job:
    @contextlib.asynccontextmanager
    async def unit_of_work() -> AsyncIterator[AsyncSession]:
        async with env.sessions() as session, session.begin():
            await fence.hold(session, account.id, generation)
            yield session

    async def heartbeat() -> None:
        return None

    def follow_up(subject: str, data: Any) -> Any:
        return build_envelope(subject, data, account_id=account.id, generation=generation)

    return Job(account.id, reset_id, 1, 1, unit_of_work, heartbeat, follow_up)


async def _done_events(env: ResetEnv, account_id: int, name: str) -> int:
    async with env.sessions() as session:
        rows = (
            await session.scalars(
                select(Outbox.envelope).where(
                    Outbox.account_id == account_id,
                    Outbox.subject == subjects.ACCOUNT_RESET_DOMAIN_DONE,
                )
            )
        ).all()
    return sum(1 for envelope in rows if envelope["data"]["domain"] == name)


async def test_each_domain_deletes_exactly_its_rows_and_a_second_run_changes_nothing(
    env: ResetEnv,
) -> None:
    target = await env.account()
    other = await env.account()
    async with env.sessions() as session, session.begin():
        seeded = await seed_account(session, target.id, target.admin.id, scale=25)
        await seed_account(session, other.id, other.admin.id, scale=25)
    async with env.sessions() as session:
        other_before = await snapshot(session, other.id)
        target_before = await snapshot(session, target.id)
    admission = await env.admit(target)
    job = _job(env, target, admission.reset_id, admission.generation)
    tuning = Tuning(batch_size=7, progress_interval=0.0)
    for d in DOMAINS:
        if d.name == "storage":
            continue
        await cleanup.run(job, d, tuning)
        await cleanup.run(job, d, tuning)  # a redelivery after done
        view = await env.view(target, admission.reset_id)
        row = next(x for x in view.domains if x.domain == d.name)
        assert row.status == "done"
        assert row.counts == {s.name: seeded[s.name] for s in d.tables if seeded[s.name]}, d.name
        assert await _done_events(env, target.id, d.name) == 1
    async with env.sessions() as session:
        after = await snapshot(session, target.id)
        other_after = await snapshot(session, other.id)
    for d in DOMAINS:
        for step in d.tables:
            assert after[step.name] == [], step.name
    assert other_after == other_before
    # reset-reminders never touches reminder_rules: identical row for row.
    assert after["reminder_rules"] == target_before["reminder_rules"]
    assert len(after["reminder_rules"]) == 3


async def test_media_deletes_rows_and_clears_avatars_but_leaves_the_files(env: ResetEnv) -> None:
    target = await env.account()
    async with env.sessions() as session, session.begin():
        await seed_account(session, target.id, target.admin.id, storage=env.storage, scale=4)
    files_before = sorted(p for p in env.storage_root.rglob("*") if p.is_file())
    admission = await env.admit(target)
    job = _job(env, target, admission.reset_id, admission.generation)
    await cleanup.run(job, domain("media"), Tuning(batch_size=3))
    async with env.sessions() as session:
        avatars = await session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.account_id == target.id, Contact.avatar_photo_id.is_not(None))
        )
    assert avatars == 0
    assert sorted(p for p in env.storage_root.rglob("*") if p.is_file()) == files_before


async def test_one_domain_message_delivered_twice_at_once_serializes_with_exact_counts(
    env: ResetEnv,
) -> None:
    target = await env.account()
    async with env.sessions() as session, session.begin():
        seeded = await seed_account(session, target.id, target.admin.id, scale=60)
    admission = await env.admit(target)
    first = _job(env, target, admission.reset_id, admission.generation)
    second = _job(env, target, admission.reset_id, admission.generation)
    tuning = Tuning(batch_size=5)
    await asyncio.gather(
        cleanup.run(first, domain("notes"), tuning), cleanup.run(second, domain("notes"), tuning)
    )
    view = await env.view(target, admission.reset_id)
    notes = next(d for d in view.domains if d.domain == "notes")
    assert notes.counts == {"notes": seeded["notes"]}
    assert await _done_events(env, target.id, "notes") == 1


async def test_a_cleanup_of_an_older_attempt_deletes_nothing(env: ResetEnv) -> None:
    target = await env.account()
    async with env.sessions() as session, session.begin():
        seeded = await seed_account(session, target.id, target.admin.id)
    admission = await env.admit(target)
    async with env.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE account_resets SET attempt = 2 WHERE id = :id"),
            {"id": admission.reset_id},
        )
    job = _job(env, target, admission.reset_id, admission.generation)  # attempt 1
    await cleanup.run(job, domain("notes"), Tuning())
    async with env.sessions() as session:
        left = await snapshot(session, target.id)
    assert len(left["notes"]) == seeded["notes"]


async def test_fan_in_moves_each_stage_once_however_often_domain_done_arrives(
    env: ResetEnv,
) -> None:
    target = await env.account()
    admission = await env.admit(target)
    async with env.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE account_resets SET stage = 'storage' WHERE id = :id"),
            {"id": admission.reset_id},
        )
        await session.execute(
            text(
                "UPDATE account_reset_domains SET status = 'done'"
                " WHERE reset_id = :id AND domain = 'storage'"
            ),
            {"id": admission.reset_id},
        )
    job = _job(env, target, admission.reset_id, admission.generation)
    moved = []
    for _ in range(3):  # the first delivery, then redeliveries (e.g. killed before the ack)
        async with job.unit_of_work() as session:
            moved.append(
                await fanin.on_domain_done(
                    session,
                    account_id=target.id,
                    reset_id=admission.reset_id,
                    attempt=1,
                    follow_up=job.follow_up,
                )
            )
    assert moved == ["domains", None, None]
    async with env.sessions() as session:
        started = await session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.account_id == target.id, Outbox.subject == subjects.ACCOUNT_RESET_STARTED)
        )
    assert started == 1
    view = await env.view(target, admission.reset_id)
    assert view.stage == "domains"
    assert {d.status for d in view.domains if d.stage == "domains"} == {"running"}
