"""Outages of the real servers: NATS down at commit time, a worker stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import nats
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from kith_common.accounts import create_account
from kith_common.bus import outbox
from kith_common.bus.relay import OutboxRelay
from kith_common.bus.streams import StreamLayout, ensure_streams
from kith_common.db.migrate import migrate
from kith_common.db.models import Outbox
from kith_common.db.session import create_engine, session_factory
from kith_common.devstack import EmbeddedNats, EmbeddedPostgres, ensure_database
from kith_common.events.payloads.dedup import ScanDuplicates
from kith_common.events.subjects import DEDUP_SCAN
from kith_common.ports import free_port
from kith_common.testing import eventually
from kith_common.testing.bus import Harness, create_effects_table, drop_streams, scan_envelope

WORKER = Path(__file__).with_name("sigterm_worker.py")


async def test_commit_made_while_nats_is_down_is_delivered_when_it_returns(
    database_url: str, stream_prefix: str, tmp_path: Path, envelope_for: Any, harness: Harness
) -> None:
    server = EmbeddedNats(tmp_path, port=free_port()).start()
    try:
        local = Harness(database_url, server.url, stream_prefix)
        runtime = local.runtime("outage")
        runtime.consume(local.spec(), type(envelope_for().data))(local.recording_handler("outage"))
        await runtime.start()
        server.stop()
        envelope = envelope_for()
        async with runtime.sessions() as session, session.begin():
            await outbox.add(session, DEDUP_SCAN, envelope)

        async def attempted() -> bool:
            async with runtime.sessions() as session:
                attempts = await session.scalar(
                    select(Outbox.attempts).where(Outbox.id == envelope.id)
                )
            return bool(attempts)

        await eventually(attempted, timeout=20)  # the relay tried while NATS was down
        assert not await local.has_effect(envelope.id)
        server.start()  # same port, same store: clients reconnect
        await eventually(lambda: local.has_effect(envelope.id), timeout=60)
        assert len(await local.effects(envelope.id)) == 1
        await runtime.stop()
    finally:
        server.stop()


@pytest.mark.parametrize("grace", [5, 0])
async def test_sigterm_during_a_handler_finishes_or_redelivers_it(
    harness: Harness, envelope_for: Any, js: Any, tmp_path: Path, grace: int
) -> None:
    """A real `kill -TERM` of a worker process mid-handler: the message is never lost.

    With a grace longer than the handler it finishes and acks; with none it is cut off,
    never acked, and another worker handles it after `ack_wait`.
    """
    started = tmp_path / "started"
    env = dict(
        os.environ,
        KITH_DATABASE_URL=harness.database_url,
        KITH_NATS_URL=harness.nats_url,
        KITH_STREAM_PREFIX=harness.prefix,
        KITH_METRICS_PORT="0",
        KITH_SHUTDOWN_GRACE_SECONDS=str(grace),
        KITH_LOG_FORMAT="console",
        WORKER_STARTED_FILE=str(started),
    )
    worker = await asyncio.create_subprocess_exec(sys.executable, str(WORKER), env=env)
    envelope = envelope_for()
    try:
        await eventually(lambda: (Path(str(started) + ".ready")).exists(), timeout=30)
        await harness.publish_raw(js, envelope, str(envelope.id))
        await eventually(started.exists, timeout=20)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 30) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
    if grace:
        assert [e[2] for e in await harness.effects(envelope.id)] == ["worker"]
        return
    assert await harness.effects(envelope.id) == []
    rescuer = harness.runtime("rescuer")
    rescuer.consume(harness.spec(durable="test-sigterm", ack_wait=3), type(envelope.data))(
        harness.recording_handler("rescuer")
    )
    await rescuer.start()
    await eventually(lambda: harness.has_effect(envelope.id), timeout=30)
    assert [e[2] for e in await harness.effects(envelope.id)] == ["rescuer"]


def test_message_ids_are_uuid4_by_default(envelope_for: Any) -> None:
    assert uuid.UUID(str(envelope_for().id)).version == 4
    assert nats is not None


async def test_relay_keeps_publishing_across_database_restarts(
    nats_url: str, stream_prefix: str, tmp_path: Path, envelope_for: Any
) -> None:
    """PostgreSQL restarted under a busy relay, fast and immediate shutdowns alike: the relay
    lives on and every row committed after each restart is published.

    A restart reaches a pass as SQLAlchemy's DBAPIError ("connection was closed in the middle
    of operation", "the database system is shutting down / starting up"); a relay that died on
    it held events back for good. Polling every 10 ms makes passes meet every restart.
    """
    server = EmbeddedPostgres(tmp_path / "pg", keep_data=True, port=free_port()).start()
    nc = await nats.connect(nats_url)
    layout = StreamLayout(stream_prefix)
    try:
        database_url = server.url_for("kith_relay")
        ensure_database(database_url)
        await migrate(database_url)
        engine = create_engine(database_url)
        sessions = session_factory(engine, stream_prefix=stream_prefix)
        js = nc.jetstream()
        await ensure_streams(js, layout, replicas=1, retention_days=1)
        relay = OutboxRelay(
            session_factory=sessions,
            js=js,
            layout=layout,
            database_url=database_url,
            poll_interval=0.01,
        )
        task = asyncio.create_task(relay.run())
        try:
            for round_ in range(4):
                await asyncio.to_thread(server.halt, immediate=round_ % 2 == 0)
                await asyncio.sleep(0.5)
                await asyncio.to_thread(server.start)
                envelope = envelope_for()
                await eventually(functools.partial(_commit, sessions, envelope), timeout=30)
                await eventually(functools.partial(_sent, sessions, envelope.id), timeout=30)
                assert not task.done(), f"the relay ended after restart {round_ + 1}"
        finally:
            await relay.stop()
            await asyncio.wait_for(task, 10)
            await engine.dispose()
    finally:
        await nc.close()
        await asyncio.to_thread(server.stop)
        await drop_streams(nats_url, stream_prefix)


async def test_a_message_met_by_a_database_outage_waits_for_it_instead_of_dead_lettering(
    nats_url: str, stream_prefix: str, tmp_path: Path, js: Any
) -> None:
    """PostgreSQL down for longer than the message's whole retry budget: the delivery waits
    and its handler runs once the server is back, without a DLQ entry.

    The old wrapper nacked with its delays (here 2 attempts 0.2 s apart) and dead-lettered the
    message within a second of the outage.
    """
    server = EmbeddedPostgres(tmp_path / "pg", keep_data=True, port=free_port()).start()
    try:
        database_url = server.url_for("kith_outage")
        ensure_database(database_url)
        await migrate(database_url)
        local = Harness(database_url, nats_url, stream_prefix)
        await create_effects_table(local)
        runtime = local.runtime("outage")
        async with runtime.sessions() as session, session.begin():
            acc, _user = await create_account(session, name="Outage", email="o@example.com")
        envelope = scan_envelope((acc.id, acc.generation))
        spec = local.spec(max_deliver=2, nack_delays=(0.2,), ack_wait=3.0)
        runtime.consume(spec, ScanDuplicates)(local.recording_handler("outage"))
        await runtime.start()
        await asyncio.to_thread(server.halt, immediate=True)
        await local.publish_raw(js, envelope, str(envelope.id))
        with capture_logs() as logs:
            await asyncio.sleep(4)  # ten times the old budget, beyond ack_wait too
            assert await _dlq_count(js, local.prefix) == 0
            await asyncio.to_thread(server.start)
            await eventually(lambda: local.has_effect(envelope.id), timeout=60)
        assert len(await local.effects(envelope.id)) == 1
        assert await _dlq_count(js, local.prefix) == 0
        events = [entry["event"] for entry in logs]
        assert "message_retried_after_outage" in events
        assert "message_dead_lettered" not in events
        await runtime.stop()
    finally:
        await asyncio.to_thread(server.stop)
        await drop_streams(nats_url, stream_prefix)


async def _dlq_count(js: Any, prefix: str) -> int:
    return int((await js.stream_info(StreamLayout(prefix).dlq)).state.messages)


async def test_a_process_whose_relay_ended_reports_itself_dead(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/healthz fails once the relay is gone, so the orchestrator restarts the process."""

    async def broken_run(self: OutboxRelay) -> None:
        raise RuntimeError("relay bug")

    monkeypatch.setattr(OutboxRelay, "run", broken_run)
    runtime = harness.runtime("no-relay")
    await runtime.start()
    await eventually(lambda: not runtime.health.alive(), timeout=10)


async def _commit(sessions: async_sessionmaker[AsyncSession], envelope: Any) -> bool:
    """Queue `envelope`; False (retry) while the restarted server still refuses connections."""
    try:
        async with sessions() as session, session.begin():
            await outbox.add(session, DEDUP_SCAN, envelope)
    except (OSError, DBAPIError):
        return False
    return True


async def _sent(sessions: async_sessionmaker[AsyncSession], message_id: uuid.UUID) -> bool:
    async with sessions() as session:
        return (
            await session.scalar(select(Outbox.sent_at).where(Outbox.id == message_id))
        ) is not None
