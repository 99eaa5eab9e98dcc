"""Delivery guarantees against the real JetStream server and PostgreSQL (issue #2 acceptance)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import asyncpg
from nats.js import JetStreamContext
from sqlalchemy import func, select

from kith_common.bus import outbox
from kith_common.bus.consumers import ConsumerSpec
from kith_common.bus.subscribe import MessageContext
from kith_common.db.models import Outbox
from kith_common.events.payloads.dlq import DeadLetter
from kith_common.events.registry import envelope_model
from kith_common.events.subjects import DEDUP_SCAN, dlq_subject
from kith_common.testing import eventually
from kith_common.testing.bus import Harness


async def test_envelope_published_twice_is_handled_once(
    harness: Harness, js: JetStreamContext, envelope_for: Any
) -> None:
    runtime = harness.runtime("one")
    spec = harness.spec()
    runtime.consume(spec, type(envelope_for().data))(harness.recording_handler("one"))
    await runtime.start()
    envelope = envelope_for()
    # Same Nats-Msg-Id: JetStream's duplicate window drops the copy.
    await harness.publish_raw(js, envelope, str(envelope.id))
    await harness.publish_raw(js, envelope, str(envelope.id))
    # Another Nats-Msg-Id (as after the window): the inbox drops it.
    await harness.publish_raw(js, envelope, f"{envelope.id}-late")
    marker = envelope_for()
    await harness.publish_raw(js, marker, str(marker.id))

    await eventually(lambda: harness.has_effect(marker.id))
    assert len(await harness.effects(envelope.id)) == 1


async def test_failing_handler_is_retried_with_delay_then_dead_lettered(
    harness: Harness, js: JetStreamContext, envelope_for: Any
) -> None:
    poison = envelope_for()
    attempts: list[float] = []

    async def explode_on_poison(ctx: MessageContext[Any]) -> None:
        if ctx.envelope.id == poison.id:
            attempts.append(time.monotonic())
            msg = "database said no"
            raise RuntimeError(msg)

    runtime = harness.runtime("flaky")
    spec = harness.spec(max_deliver=3, nack_delays=(0.4,))
    runtime.consume(spec, type(poison.data))(harness.recording_handler("flaky", explode_on_poison))
    await runtime.start()
    dlq = await js.pull_subscribe(
        f"{harness.prefix}.{dlq_subject(spec.durable)}",
        durable="dlq-reader",
        stream=f"{harness.prefix}_KITH_DLQ",
    )
    await harness.publish_raw(js, poison, str(poison.id))
    healthy = [envelope_for() for _ in range(3)]
    for envelope in healthy:
        await harness.publish_raw(js, envelope, str(envelope.id))

    letters = await dlq.fetch(1, timeout=15)
    letter = envelope_model(DeadLetter).model_validate_json(letters[0].data)
    assert letter.data.consumer == spec.durable
    assert letter.data.deliveries == 3
    assert "database said no" in letter.data.error_message
    assert letter.data.envelope["id"] == str(poison.id)
    assert len(attempts) == 3
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert all(gap >= 0.35 for gap in gaps), gaps
    for envelope in healthy:
        assert len(await harness.effects(envelope.id)) == 1
    assert not await harness.effects(poison.id)


async def test_unparseable_message_goes_to_dlq_without_retries(
    harness: Harness, js: JetStreamContext, envelope_for: Any
) -> None:
    runtime = harness.runtime("strict")
    spec = harness.spec(max_deliver=5)
    runtime.consume(spec, type(envelope_for().data))(harness.recording_handler("strict"))
    await runtime.start()
    dlq = await js.pull_subscribe(
        f"{harness.prefix}.{dlq_subject(spec.durable)}",
        durable="dlq-reader-2",
        stream=f"{harness.prefix}_KITH_DLQ",
    )
    await js.publish(f"{harness.prefix}.{DEDUP_SCAN}", b"<html>not json</html>")
    letters = await dlq.fetch(1, timeout=10)
    letter = envelope_model(DeadLetter).model_validate_json(letters[0].data)
    assert letter.data.deliveries == 1
    assert letter.data.error_type == "ValidationError"
    assert letter.data.envelope == {"raw": "<html>not json</html>"}


async def test_outbox_commit_is_delivered_once_after_the_relay_starts(
    harness: Harness, envelope_for: Any
) -> None:
    runtime = harness.runtime("late")
    runtime.consume(harness.spec(), type(envelope_for().data))(harness.recording_handler("late"))
    envelope = envelope_for()
    # Committed while no relay runs (as if the relay died right after the producer's commit).
    async with runtime.sessions() as session, session.begin():
        await outbox.add(session, DEDUP_SCAN, envelope)
    await runtime.start()
    await eventually(lambda: harness.has_effect(envelope.id))
    await eventually(lambda: _sent(harness, envelope.id))
    assert len(await harness.effects(envelope.id)) == 1


async def _sent(harness: Harness, message_id: uuid.UUID) -> bool:
    async with harness.runtimes[0].sessions() as session:
        sent_at = await session.scalar(select(Outbox.sent_at).where(Outbox.id == message_id))
    return sent_at is not None


async def test_relay_killed_after_publishing_does_not_double_deliver(
    harness: Harness, envelope_for: Any
) -> None:
    """A relay that published but died before marking rows sent: they go out again, deduped."""
    runtime = harness.runtime("crashy")
    runtime.consume(harness.spec(), type(envelope_for().data))(harness.recording_handler("crashy"))
    envelopes = [envelope_for() for _ in range(5)]
    async with runtime.sessions() as session, session.begin():
        for envelope in envelopes:
            await outbox.add(session, DEDUP_SCAN, envelope)
    await runtime.start()
    relay = runtime._relay  # the runtime's own relay already delivered them once
    assert relay is not None
    for envelope in envelopes:
        await eventually(lambda e=envelope: harness.has_effect(e.id))
    # Pretend the marking never committed: make the rows due again and relay a second time.
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            Outbox.__table__.update()
            .where(Outbox.id.in_([e.id for e in envelopes]))
            .values(sent_at=None)
        )
    relay.wake()
    for envelope in envelopes:
        await eventually(lambda e=envelope: _sent(harness, e.id))
    marker = envelope_for()
    async with runtime.sessions() as session, session.begin():
        await outbox.add(session, DEDUP_SCAN, marker)
    await eventually(lambda: harness.has_effect(marker.id))
    for envelope in envelopes:
        assert len(await harness.effects(envelope.id)) == 1


async def test_rolled_back_transaction_publishes_nothing(
    harness: Harness, envelope_for: Any
) -> None:
    runtime = harness.runtime("rollback")
    envelope = envelope_for()
    async with runtime.sessions() as session:
        async with session.begin():
            await outbox.add(session, DEDUP_SCAN, envelope)
            await session.rollback()
        count = await session.scalar(
            select(func.count()).select_from(Outbox).where(Outbox.id == envelope.id)
        )
    assert count == 0


async def test_two_replicas_share_the_work_each_message_once(
    harness: Harness, js: JetStreamContext, envelope_for: Any
) -> None:
    first, second = harness.runtime("r1"), harness.runtime("r2")

    async def slow(_ctx: MessageContext[Any]) -> None:
        await asyncio.sleep(0.02)

    spec = harness.spec(durable="test-shared")
    for name, runtime in (("r1", first), ("r2", second)):
        runtime.consume(spec, type(envelope_for().data))(harness.recording_handler(name, slow))
        await runtime.start()
    envelopes = [envelope_for() for _ in range(60)]
    for envelope in envelopes:
        await harness.publish_raw(js, envelope, str(envelope.id))

    ids = {e.id for e in envelopes}

    async def ours() -> list[tuple[str, uuid.UUID, str]]:
        return [e for e in await harness.effects() if e[1] in ids]

    async def all_handled() -> bool:
        return len(await ours()) >= len(envelopes)

    await eventually(all_handled, timeout=30)
    effects = await ours()
    assert sorted(e[1] for e in effects) == sorted(e.id for e in envelopes)
    by_runtime = {e[2] for e in effects}
    assert by_runtime == {"r1", "r2"}


async def test_changed_consumer_settings_take_effect_after_restart(
    harness: Harness, js: JetStreamContext, envelope_for: Any
) -> None:
    payload = type(envelope_for().data)
    before = harness.runtime("v1")
    before.consume(harness.spec(durable="test-tuned", max_deliver=3, ack_wait=5), payload)(
        harness.recording_handler("v1")
    )
    await before.start()
    await before.stop()
    after = harness.runtime("v2")
    after.consume(harness.spec(durable="test-tuned", max_deliver=7, ack_wait=12), payload)(
        harness.recording_handler("v2")
    )
    await after.start()
    info = await js.consumer_info(f"{harness.prefix}_KITH_CMD", "test-tuned")
    # One delivery beyond max_deliver is reserved for dead-lettering after a crash.
    assert info.config.max_deliver == 8
    assert info.config.ack_wait == 12


async def test_stop_during_a_handler_finishes_or_redelivers_it(
    harness: Harness, js: JetStreamContext, envelope_for: Any
) -> None:
    started = asyncio.Event()

    async def slow(_ctx: MessageContext[Any]) -> None:
        started.set()
        await asyncio.sleep(0.5)

    payload = type(envelope_for().data)
    spec = harness.spec(durable="test-drain", ack_wait=2)
    runtime = harness.runtime("draining", shutdown_grace_seconds=5)
    runtime.consume(spec, payload)(harness.recording_handler("draining", slow))
    await runtime.start()
    envelope = envelope_for()
    await harness.publish_raw(js, envelope, str(envelope.id))
    await asyncio.wait_for(started.wait(), 10)
    await runtime.stop()  # the grace outlasts the handler: it finishes and acks
    assert len(await harness.effects(envelope.id)) == 1

    hung = asyncio.Event()

    async def hang(_ctx: MessageContext[Any]) -> None:
        hung.set()
        await asyncio.sleep(30)

    impatient = harness.runtime("impatient", shutdown_grace_seconds=0)
    impatient.consume(spec, payload)(harness.recording_handler("impatient", hang))
    await impatient.start()
    stuck = envelope_for()
    await harness.publish_raw(js, stuck, str(stuck.id))
    await asyncio.wait_for(hung.wait(), 10)
    await impatient.stop()  # the handler is cut off: its transaction never commits
    rescuer = harness.runtime("rescuer")
    rescuer.consume(spec, payload)(harness.recording_handler("rescuer"))
    await rescuer.start()
    await eventually(lambda: harness.has_effect(stuck.id), timeout=20)
    assert [e[2] for e in await harness.effects(stuck.id)] == ["rescuer"]


async def test_spec_nack_delay_grows_and_caps() -> None:
    spec = ConsumerSpec(durable="x", subject=DEDUP_SCAN, stream="KITH_CMD", nack_delays=(1, 5, 30))
    assert [spec.nack_delay(n) for n in (1, 2, 3, 4, 9)] == [1, 5, 30, 30, 30]


async def test_handler_longer_than_ack_wait_is_kept_alive_not_redelivered(
    harness: Harness, js: JetStreamContext, envelope_for: Any
) -> None:
    deliveries: list[int] = []

    async def slow(ctx: MessageContext[Any]) -> None:
        deliveries.append(ctx.deliveries)
        await asyncio.sleep(3.5)  # the work itself: three and a half ack_waits

    runtime = harness.runtime("long")
    spec = harness.spec(durable="test-long", ack_wait=1, max_deliver=3)
    runtime.consume(spec, type(envelope_for().data))(harness.recording_handler("long", slow))
    await runtime.start()
    envelope = envelope_for()
    await harness.publish_raw(js, envelope, str(envelope.id))
    await eventually(lambda: harness.has_effect(envelope.id), timeout=20)
    assert deliveries == [1]
    info = await js.consumer_info(f"{harness.prefix}_KITH_CMD", spec.durable)
    assert info.num_redelivered == 0


async def test_events_of_one_transaction_reach_the_stream_in_the_order_written(
    harness: Harness, js: JetStreamContext, envelope_for: Any
) -> None:
    """They share `created_at` (the transaction's start): the relay must not reorder them."""
    runtime = harness.runtime("ordered")
    envelopes = [envelope_for() for _ in range(30)]
    async with runtime.sessions() as session, session.begin():
        for envelope in envelopes:
            await outbox.add(session, DEDUP_SCAN, envelope)
    await runtime.start()
    for envelope in envelopes:
        await eventually(lambda e=envelope: _sent(harness, e.id))
    stream = f"{harness.prefix}_KITH_CMD"
    last = (await js.stream_info(stream)).state.last_seq
    on_stream = [(await js.get_msg(stream, seq)).header for seq in range(1, last + 1)]
    ids = [h["Nats-Msg-Id"] for h in on_stream if h]
    assert ids == [str(e.id) for e in envelopes]


async def test_a_commit_wakes_the_relays_listener_and_a_rollback_does_not(
    harness: Harness, envelope_for: Any
) -> None:
    """The relay publishes within milliseconds because `add` notifies; polling is the fallback."""
    listener = await asyncpg.connect(harness.database_url.replace("+asyncpg", ""))
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(outbox.NOTIFY_CHANNEL, lambda *args: heard.put_nowait(args[1]))
    runtime = harness.runtime("notify")
    try:
        async with runtime.sessions() as session, session.begin():
            await outbox.add(session, DEDUP_SCAN, envelope_for())
            await session.rollback()
        async with runtime.sessions() as session, session.begin():
            for _ in range(3):
                await outbox.add(session, DEDUP_SCAN, envelope_for())
        await asyncio.wait_for(heard.get(), timeout=5)
        await asyncio.sleep(0.2)
        assert heard.empty()  # one for the commit (folded), none for the rollback
    finally:
        await listener.close()
