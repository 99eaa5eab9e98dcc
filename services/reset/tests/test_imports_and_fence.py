"""Stopping imports (reset.md §4.2) and stale work of the old generation (§6)."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text

from kith_common.bus.consumers import ConsumerSpec
from kith_common.db.models import Import, Outbox
from kith_common.events import subjects
from kith_common.events.examples import EXAMPLES
from kith_common.events.registry import build_envelope
from kith_common.metrics import REGISTRY
from kith_common.testing import eventually
from kith_common.testing.bus import create_effects_table
from kith_reset.testing import seed_account

if TYPE_CHECKING:
    from .conftest import Account, ResetEnv

KEY = b"\x01" * 32


async def _import(env: ResetEnv, account: Account, **values: Any) -> int:
    async with env.sessions() as session, session.begin():
        row = Import(account_id=account.id, source="monica_api", generation=1, **values)
        session.add(row)
        await session.flush()
        return row.id


async def _get(env: ResetEnv, import_id: int) -> Import:
    async with env.sessions() as session:
        row = await session.get(Import, import_id)
    assert row is not None
    return row


async def test_reset_cancels_the_accounts_imports_and_waits_for_the_running_one(
    env: ResetEnv,
) -> None:
    target = await env.account()
    other = await env.account()
    crawl = await _import(env, target, status="processing", api_key_encrypted=KEY, lease_owner="w1")
    media = await _import(
        env, target, status="completed", media_status="pending", api_key_encrypted=KEY
    )
    other_crawl = await _import(env, other, status="processing", api_key_encrypted=KEY)
    for import_id in (crawl, other_crawl):
        async with env.sessions() as session, session.begin():
            await session.execute(
                text("UPDATE imports SET heartbeat_at = now() WHERE id = :id"), {"id": import_id}
            )
    await env.start()
    admission = await env.admit(target)

    async def crawl_cancelling() -> bool:
        row = await _get(env, crawl)
        return row.status == "cancelling"

    await eventually(crawl_cancelling, timeout=20)
    row = await _get(env, crawl)
    assert row.api_key_encrypted is None
    assert row.cancel_reason == "account_reset"
    pending = await _get(env, media)
    assert (pending.media_status, pending.api_key_encrypted) == ("cancelled", None)
    # The reset waits while the worker is alive (fresh heartbeat).
    assert (await env.reset_row(admission.reset_id)).stage == "stopping_imports"
    # The worker sees `cancelling` at its next checkpoint and stops.
    async with env.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE imports SET status = 'cancelled' WHERE id = :id"), {"id": crawl}
        )
    await eventually(env.status_is(target, admission.reset_id, "completed"), timeout=120)
    untouched = await _get(env, other_crawl)
    assert (untouched.status, untouched.api_key_encrypted, untouched.cancel_reason) == (
        "processing",
        KEY,
        None,
    )
    async with env.sessions() as session:
        cancelled = (
            await session.scalars(
                select(Outbox.envelope).where(
                    Outbox.account_id == target.id, Outbox.subject == subjects.IMPORT_CANCELLED
                )
            )
        ).all()
    # The cancel function announces what it cancelled outright; a `cancelling` phase is
    # announced by the worker that stops it (kith_common.imports).
    announced = {e["data"]["import_id"]: e["data"]["reason"] for e in cancelled}
    assert announced[media] == "account_reset"
    assert other_crawl not in announced


async def test_a_dead_worker_stuck_in_cancelling_is_forced_and_the_reset_proceeds(
    env: ResetEnv,
) -> None:
    target = await env.account()
    crawl = await _import(env, target, status="processing", api_key_encrypted=KEY)
    async with env.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE imports SET heartbeat_at = now() - interval '2 minutes' WHERE id = :id"),
            {"id": crawl},
        )
    await env.start()
    admission = await env.admit(target)
    await eventually(env.status_is(target, admission.reset_id, "completed"), timeout=120)
    async with env.sessions() as session:
        left = await session.get(Import, crawl)
    assert left is None  # forced to cancelled, then deleted by reset-imports


STALE_SUBJECTS = (
    subjects.PHOTOS_SYNC,
    subjects.IMPORT_COMPLETED,
    subjects.CONTACTS_MERGE,
    subjects.DEDUP_SCAN,
    subjects.IMPORT_START,
)


async def test_old_generation_messages_queued_before_the_reset_do_nothing_after_it(
    env: ResetEnv,
) -> None:
    target = await env.account()
    async with env.sessions() as session, session.begin():
        await seed_account(session, target.id, target.admin.id, storage=env.storage)
    await create_effects_table(env.harness)
    old_generation = 1
    queued = []
    for index, subject in enumerate(STALE_SUBJECTS):
        envelope = build_envelope(
            subject, EXAMPLES[subject], account_id=target.id, generation=old_generation
        )
        queued.append((index, subject, envelope))
    workers = env.harness.runtime("workers")
    for index, subject, envelope in queued:
        spec = ConsumerSpec(
            durable=f"stale-{index}",
            subject=subject,
            stream=subjects.STREAM_CMD if ".cmd." in subject else subjects.STREAM_EVT,
        )
        workers.consume(spec, type(envelope.data))(env.harness.recording_handler("workers"))
    reset_runtime = await env.start()
    assert reset_runtime.js is not None
    for _index, subject, envelope in queued:  # queued before the reset
        await env.harness.publish_raw(env.js, envelope, str(envelope.id), subject=subject)
    admission = await env.admit(target)
    await eventually(env.status_is(target, admission.reset_id, "completed"), timeout=120)
    before = {
        f"stale-{i}": REGISTRY.get_sample_value(
            "kith_bus_messages_handled_total", {"consumer": f"stale-{i}", "outcome": "stale"}
        )
        or 0.0
        for i, _, _ in queued
    }
    await workers.start()

    async def all_stale() -> bool:
        for i, _, _ in queued:
            value = REGISTRY.get_sample_value(
                "kith_bus_messages_handled_total", {"consumer": f"stale-{i}", "outcome": "stale"}
            )
            if (value or 0.0) < before[f"stale-{i}"] + 1:
                return False
        return True

    await eventually(all_stale, timeout=30)
    for _, _, envelope in queued:
        assert await env.harness.effects(envelope.id) == []
    # No letter for any of them.
    for i, _, _ in queued:
        dead = REGISTRY.get_sample_value("kith_bus_dead_lettered_total", {"consumer": f"stale-{i}"})
        assert not dead


async def test_a_replayed_reset_letter_of_an_old_attempt_is_dropped(env: ResetEnv) -> None:
    target = await env.account()
    await env.start()
    first = await env.admit(target)
    await eventually(env.status_is(target, first.reset_id, "completed"), timeout=120)
    second = await env.admit(target)
    assert second.reset_id != first.reset_id
    view = await eventually(env.status_is(target, second.reset_id, "completed"), timeout=120)
    letter_of_first = {
        "id": str(uuid.uuid4()),
        "type": "dlq.reset-notes",
        "occurred_at": "2026-11-28T00:00:00Z",
        "account_id": target.id,
        "generation": first.generation,
        "correlation_id": None,
        "data": {
            "subject": subjects.ACCOUNT_RESET_STARTED,
            "consumer": "reset-notes",
            "envelope": {"data": {"reset_id": first.reset_id, "attempt": 1}},
            "error_type": "RuntimeError",
            "error_message": "boom",
            "deliveries": 6,
            "failed_at": "2026-11-28T00:00:00Z",
        },
    }
    await env.js.publish(
        f"{env.harness.prefix}.{subjects.dlq_subject('reset-notes')}",
        json.dumps(letter_of_first).encode(),
        headers={"Nats-Msg-Id": letter_of_first["id"]},
    )

    async def consumed() -> bool:
        info = await env.js.consumer_info(f"{env.harness.prefix}_KITH_DLQ", "reset-dlq")
        return info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq > 0

    await eventually(consumed, timeout=20)
    assert (await env.view(target, first.reset_id)).status == "completed"
    assert view.status == "completed"
