"""Failures (reset.md §7): retries with delays, the DLQ, a failed reset, and its retry."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from kith_common import resets
from kith_common.db.models import AuditLog, Contact, Note, Outbox, Photo
from kith_common.events import subjects
from kith_common.events.subjects import dlq_subject
from kith_common.storage import LocalStorage, StorageError
from kith_common.testing import eventually
from kith_reset.domains import STAGE_DOMAINS
from kith_reset.testing import file_hashes, seed_account

if TYPE_CHECKING:
    from .conftest import ResetEnv

DELAYS = (0.3, 0.6, 0.9, 1.2, 1.5)


async def _count(env: ResetEnv, model: Any, account_id: int) -> int:
    async with env.sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(model).where(model.account_id == account_id)
            )
            or 0
        )


async def test_a_domain_failing_every_time_fails_the_reset_and_a_new_request_retries_it(
    env: ResetEnv,
) -> None:
    target = await env.account()
    async with env.sessions() as session, session.begin():
        seeded = await seed_account(session, target.id, target.admin.id, storage=env.storage)
    calls: list[float] = []
    broken = {"notes": True}

    async def fault(name: str, table: str, account_id: int) -> None:
        if name == "notes" and broken["notes"] and account_id == target.id:
            calls.append(time.monotonic())
            raise RuntimeError("notes table is on fire")

    await env.start(faults=fault, nack_delays=DELAYS, max_deliver=6)
    first = await env.admit(target)
    view = await eventually(env.status_is(target, first.reset_id, "failed"), timeout=120)

    # Six deliveries, spaced by the configured delays.
    assert len(calls) == 6
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    for gap, delay in zip(gaps, DELAYS, strict=True):
        assert gap >= delay - 0.05, (gaps, DELAYS)
    # The letter, the failed reset naming the domain and the error.
    letter = await env.js.get_last_msg(
        f"{env.harness.prefix}_KITH_DLQ", f"{env.harness.prefix}.{dlq_subject('reset-notes')}"
    )
    assert json.loads(letter.data)["data"]["consumer"] == "reset-notes"
    assert view.error is not None
    assert view.error["domain"] == "notes"
    assert "notes table is on fire" in view.error["message"]
    by_name = {d.domain: d for d in view.domains}
    assert by_name["notes"].status == "failed"
    assert by_name["notes"].deliveries == 6
    assert "on fire" in (by_name["notes"].last_error or "")
    # The stage's other consumers still finish; the contacts stage never starts.
    await eventually(
        lambda: _others_done(env, target.id, first.reset_id), timeout=30, what="others done"
    )
    assert by_name["contacts"].status == "pending"
    assert await _count(env, Contact, target.id) == seeded["contacts"]
    assert await _count(env, Note, target.id) == seeded["notes"]
    async with env.sessions() as session:
        failed_events = await session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.account_id == target.id, Outbox.subject == subjects.ACCOUNT_RESET_FAILED)
        )
    assert failed_events == 1

    # The fault is fixed; a new POST retries the same reset.
    broken["notes"] = False
    retry = await env.admit(target)
    assert (retry.outcome, retry.reset_id, retry.attempt) == ("retried", first.reset_id, 2)
    assert retry.generation == first.generation + 1
    done = await eventually(env.status_is(target, first.reset_id, "completed"), timeout=120)
    assert done.attempt == 2
    counts = {d.domain: d.counts for d in done.domains}
    # Counts accumulate over attempts: attempt 1 already deleted the other domains.
    assert counts["notes"] == {"notes": seeded["notes"]}
    assert counts["contacts"]["contacts"] == seeded["contacts"]
    assert counts["reminders"] == {"reminders": seeded["reminders"]}
    assert await _count(env, Contact, target.id) == 0
    async with env.sessions() as session:
        audits = (
            await session.scalars(select(AuditLog).where(AuditLog.account_id == target.id))
        ).all()
    assert len(audits) == 1
    assert audits[0].metadata_["attempts"] == 2


async def _others_done(env: ResetEnv, account_id: int, reset_id: int) -> bool:
    async with env.sessions() as session:
        view = await resets.get_reset(session, account_id, reset_id)
    states = {d.domain: d.status for d in view.domains}
    return all(states[n] == "done" for n in STAGE_DOMAINS["domains"] if n != "notes")


class _BrokenOnOneKey(LocalStorage):
    def __init__(self, root: Any, bad: str) -> None:
        super().__init__(root)
        self.bad = bad

    async def delete(self, key: str) -> bool:
        if key == self.bad:
            raise StorageError(f"delete {key}: permission denied")
        return await super().delete(key)


async def test_a_storage_error_fails_the_reset_at_storage_before_any_row_is_deleted(
    env: ResetEnv,
) -> None:
    target = await env.account()
    async with env.sessions() as session, session.begin():
        seeded = await seed_account(session, target.id, target.admin.id, storage=env.storage)
        bad = await session.scalar(
            select(Photo.storage_key).where(Photo.account_id == target.id).order_by(Photo.id)
        )
    assert bad is not None
    await env.start(storage=_BrokenOnOneKey(env.storage_root, bad), nack_delays=DELAYS)
    admission = await env.admit(target)
    view = await eventually(env.status_is(target, admission.reset_id, "failed"), timeout=120)
    assert view.error is not None
    assert view.error["domain"] == "storage"
    assert all(d.status == "pending" for d in view.domains if d.domain != "storage")
    assert await _count(env, Photo, target.id) == seeded["photos"]
    assert await _count(env, Contact, target.id) == seeded["contacts"]
    assert await _count(env, Note, target.id) == seeded["notes"]
    # The key that failed still has its file, so a retry can find it.
    assert bad in await file_hashes(env.storage_root, target.id)


async def test_a_key_whose_file_is_gone_counts_as_missing(env: ResetEnv) -> None:
    target = await env.account()
    async with env.sessions() as session, session.begin():
        seeded = await seed_account(session, target.id, target.admin.id, storage=env.storage)
        gone = await session.scalar(
            select(Photo.storage_key).where(Photo.account_id == target.id).limit(1)
        )
    assert gone is not None
    await env.storage.delete(gone)
    await env.start()
    admission = await env.admit(target)
    view = await eventually(env.status_is(target, admission.reset_id, "completed"), timeout=120)
    storage = next(d for d in view.domains if d.domain == "storage")
    assert storage.counts["missing"] == 1
    assert storage.counts["photos"] == seeded["photos"] - 1
    assert storage.last_error is None


async def test_completion_events_redelivered_after_completion_change_nothing(
    env: ResetEnv,
) -> None:
    target = await env.account()
    async with env.sessions() as session, session.begin():
        await seed_account(session, target.id, target.admin.id, storage=env.storage)
    await env.start()
    admission = await env.admit(target)
    await eventually(env.status_is(target, admission.reset_id, "completed"), timeout=120)
    async with env.sessions() as session:
        sent = (
            await session.execute(
                select(Outbox.subject, Outbox.envelope).where(
                    Outbox.account_id == target.id,
                    Outbox.subject.in_(
                        [subjects.ACCOUNT_RESET_DOMAIN_DONE, subjects.ACCOUNT_RESET_STARTED]
                    ),
                )
            )
        ).all()
    # Replay each under a new message id, so neither JetStream nor the inbox drops it.
    for row in sent:
        envelope = dict(row.envelope, id=str(uuid.uuid4()))
        await env.js.publish(
            f"{env.harness.prefix}.{row.subject}",
            json.dumps(envelope).encode(),
            headers={"Nats-Msg-Id": envelope["id"]},
        )

    async def replays_consumed() -> bool:
        for durable in ("reset-fanin", "reset-notes"):
            info = await env.js.consumer_info(f"{env.harness.prefix}_KITH_EVT", durable)
            if info.num_pending or info.num_ack_pending:
                return False
        return True

    await eventually(replays_consumed, timeout=30)
    async with env.sessions() as session:
        audits = await session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.account_id == target.id)
        )
        completed = await session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(
                Outbox.account_id == target.id,
                Outbox.subject == subjects.ACCOUNT_RESET_COMPLETED,
            )
        )
    assert (audits, completed) == (1, 1)
