"""Fault injection over the real services (issue #9): each trial ends as an uninterrupted run.

- `kill -9` of each service at a random point of the journey, then a restart;
- a NATS restart mid-flow (an embedded nats-server restarted on the same port and data dir);
- a PostgreSQL restart mid-flow (an embedded server, fast or immediate shutdown, restarted on
  the same port and data dir);
- poison messages (garbage and wrong-typed payloads) on the command subjects;
- every message delivered twice: a mirror republishes each command and event once more with the
  same envelope id but a new `Nats-Msg-Id`, so JetStream's duplicate window cannot drop it and
  only the consumers' inbox stands between the copy and a doubled effect.

A baseline journey on a fresh account fixes the expected end state; every trial runs the same
journey on another fresh account and must end with the same snapshot (contacts, merges,
fields, notes, photos, documents, import records, candidates by status) with no manual step.
CI runs one trial per fault kind; `KITH_FAULT_TRIALS=20` for the long run (figures in
docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest

from kith_common.bus.streams import StreamLayout
from kith_common.db.migrate import migrate
from kith_common.devstack import EmbeddedNats, EmbeddedPostgres, ensure_database
from kith_common.testing.bus import drop_streams
from kith_common.testing.fake_monica import FakeMonica, generate
from kith_common.testing.stack import SERVICES, Stack, free_port

Journey = Callable[[Stack], Awaitable[dict[str, Any]]]
TRIALS = int(os.environ.get("KITH_FAULT_TRIALS", "1"))
SEED = int(os.environ.get("KITH_FAULT_SEED", str(random.randrange(1_000_000))))


def _fake() -> FakeMonica:
    world = generate(
        contacts=40,
        seed=21,
        partial_ratio=0.1,
        duplicate_ratio=0.1,
        misc_per_contact=1.0,
        photos=6,
        documents=2,
        relationship_ratio=0.2,
    )
    return FakeMonica(world, rate_limit=0)


async def _timed(journey: Journey, stack: Stack) -> tuple[dict[str, object], float]:
    began = time.monotonic()
    result = await journey(stack)
    return result, time.monotonic() - began


@pytest.mark.slow
async def test_kill_9_of_each_service_at_a_random_point_loses_and_doubles_nothing(
    database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path, journey: Journey
) -> None:
    rng = random.Random(SEED)
    failures: list[str] = []
    async with Stack(database_url, nats_url, stream_prefix, tmp_path, fake=_fake()) as stack:
        baseline, duration = await _timed(journey, stack)
        for trial in range(TRIALS):
            for service in SERVICES:
                delay = rng.uniform(0.1, max(0.5, duration * 0.8))
                task = asyncio.create_task(journey(stack))
                await asyncio.sleep(delay)
                stack.kill(service)
                await stack.restart(service)
                result = await task
                if result != baseline:
                    failures.append(f"{service} trial {trial} at {delay:.1f}s: {result}")
    await drop_streams(nats_url, stream_prefix)
    assert failures == [], f"seed {SEED}; baseline {baseline}; {failures}"


@pytest.mark.slow
async def test_poison_messages_are_dead_lettered_and_the_journey_is_unharmed(
    database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path, journey: Journey
) -> None:
    layout = StreamLayout(stream_prefix)
    async with Stack(database_url, nats_url, stream_prefix, tmp_path, fake=_fake()) as stack:
        baseline = await journey(stack)
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            poison = [  # distinct bytes per trial: identical letters would be one DLQ entry
                ("kith.cmd.import.start", lambda n: f"not json at all #{n}".encode()),
                ("kith.cmd.contacts.merge", lambda n: json.dumps({"type": "x", "n": n}).encode()),
                ("kith.cmd.dedup.scan", lambda n: json.dumps({"id": n, "data": [1, 2]}).encode()),
                ("kith.cmd.photos.sync", lambda n: b"\x00\xff" * (n + 1)),
                ("kith.cmd.account.reset", lambda n: json.dumps([n]).encode()),
            ]
            for trial in range(TRIALS):
                for subject, data in poison:
                    await js.publish(layout.subject(subject), data(trial))
            result = await journey(stack)
            assert result == baseline

            async def dead_letters() -> int:
                return int((await js.stream_info(layout.dlq)).state.messages)

            deadline = time.monotonic() + 120
            while await dead_letters() < len(poison) * TRIALS:
                assert time.monotonic() < deadline, await dead_letters()
                await asyncio.sleep(0.5)
            for service in SERVICES:  # nobody crashed on the garbage
                assert stack.process(service).running, stack.process(service).tail()
        finally:
            await nc.close()
    await drop_streams(nats_url, stream_prefix)


@pytest.mark.slow
async def test_nats_restart_mid_flow_loses_and_doubles_nothing(
    database_url: str, stream_prefix: str, tmp_path: Path, journey: Journey
) -> None:
    rng = random.Random(SEED)
    server = EmbeddedNats(tmp_path / "nats", port=free_port()).start()
    failures: list[str] = []
    try:
        async with Stack(database_url, server.url, stream_prefix, tmp_path, fake=_fake()) as stack:
            baseline, duration = await _timed(journey, stack)
            for trial in range(TRIALS):
                delay = rng.uniform(0.1, max(0.5, duration * 0.8))
                task = asyncio.create_task(journey(stack))
                await asyncio.sleep(delay)
                await asyncio.to_thread(server.stop)
                await asyncio.sleep(rng.uniform(0.5, 3.0))
                await asyncio.to_thread(server.start)
                result = await task
                if result != baseline:
                    failures.append(f"trial {trial} at {delay:.1f}s: {result}")
    finally:
        server.stop()
    assert failures == [], f"seed {SEED}; baseline {baseline}; {failures}"


@pytest.mark.slow
async def test_postgres_restart_mid_flow_loses_and_doubles_nothing(
    nats_url: str, stream_prefix: str, tmp_path: Path, journey: Journey
) -> None:
    """The stack's own PostgreSQL goes down mid-journey and comes back on the same port and data.

    Half the restarts are fast shutdowns (sessions rolled back, checkpoint), half immediate
    ones (no checkpoint, WAL replay on start: what a crash looks like to the clients).
    """
    rng = random.Random(SEED)
    # keep_data=True for its durable settings: keep_data=False turns synchronous_commit off, so
    # an immediate shutdown would lose commits already answered (the data is removed below).
    server = EmbeddedPostgres(tmp_path / "pg", keep_data=True, port=free_port()).start()
    failures: list[str] = []
    try:
        database_url = server.url_for("kith_faults")
        ensure_database(database_url)
        await migrate(database_url)
        async with Stack(database_url, nats_url, stream_prefix, tmp_path, fake=_fake()) as stack:
            baseline, duration = await _timed(journey, stack)
            for trial in range(TRIALS):
                delay = rng.uniform(0.1, max(0.5, duration * 0.8))
                immediate = rng.random() < 0.5
                down = rng.uniform(0.5, 4.0)
                task = asyncio.create_task(journey(stack))
                await asyncio.sleep(delay)
                await asyncio.to_thread(server.halt, immediate=immediate)
                await asyncio.sleep(down)
                await asyncio.to_thread(server.start)
                result = await task
                if result != baseline:
                    kind = "immediate" if immediate else "fast"
                    failures.append(
                        f"trial {trial} {kind} at {delay:.1f}s for {down:.1f}s: {result}"
                    )
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(server.data_dir, ignore_errors=True)
    await drop_streams(nats_url, stream_prefix)
    assert failures == [], f"seed {SEED}; baseline {baseline}; {failures}"


@pytest.mark.slow
async def test_every_message_delivered_twice_changes_nothing(
    database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path, journey: Journey
) -> None:
    layout = StreamLayout(stream_prefix)
    async with Stack(database_url, nats_url, stream_prefix, tmp_path, fake=_fake()) as stack:
        baseline = await journey(stack)
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        copies = 0

        async def mirror(msg: nats.aio.msg.Msg) -> None:
            nonlocal copies
            headers = dict(msg.headers or {})
            if headers.get("Kith-Fault-Copy"):
                return
            headers["Nats-Msg-Id"] = f"{headers.get('Nats-Msg-Id', '')}-copy"
            headers["Kith-Fault-Copy"] = "1"
            await js.publish(msg.subject, msg.data, headers=headers)
            copies += 1

        subs = [
            await nc.subscribe(layout.subject("kith.cmd.>"), cb=mirror),
            await nc.subscribe(layout.subject("kith.evt.>"), cb=mirror),
        ]
        try:
            results = [await journey(stack) for _ in range(TRIALS)]
        finally:
            for sub in subs:
                await sub.unsubscribe()
            await nc.close()
    await drop_streams(nats_url, stream_prefix)
    assert copies > 10
    assert all(result == baseline for result in results), (baseline, results)
