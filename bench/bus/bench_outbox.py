"""Outbox → consumer latency and relay throughput, against real PostgreSQL and NATS.

Run by hand (never in CI):  .venv/bin/python bench/bus/bench_outbox.py [--messages 2000]
It creates a scratch database `kith_bench_bus`, migrates it, uses a unique stream prefix, and
cleans both up. Results go to docs/performance.md by hand.

- latency: one message per transaction at a steady rate; time from commit to the start of the
  consumer's handler (inside its inbox transaction), p50/p99.
- throughput: N rows committed at once while the relay is stopped, then the time for the relay
  to publish all of them (JetStream PubAck received for each) → events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
import uuid
from typing import Any

import asyncpg
import nats
from sqlalchemy import func, insert, select

from kith_common.accounts import create_account
from kith_common.bus import outbox
from kith_common.bus.consumers import ConsumerSpec
from kith_common.bus.subscribe import MessageContext
from kith_common.db.migrate import migrate
from kith_common.db.models import Outbox
from kith_common.events.payloads.dedup import ScanDuplicates
from kith_common.events.registry import build_envelope
from kith_common.events.subjects import DEDUP_SCAN, STREAM_CMD
from kith_common.service import Runtime
from kith_common.settings import Settings

SERVER = "postgresql://postgres@127.0.0.1:5432"
DB = "kith_bench_bus"


async def fresh_database() -> str:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await conn.execute(f'CREATE DATABASE "{DB}"')
    await conn.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
    await migrate(url)
    return url


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def latency(runtime: Runtime, account: tuple[int, int], count: int, rate: float) -> None:
    commits: dict[uuid.UUID, float] = {}
    seen: dict[uuid.UUID, float] = {}
    done = asyncio.Event()

    async def handle(ctx: MessageContext[Any]) -> None:
        seen[ctx.envelope.id] = time.perf_counter()
        if len(seen) >= count:
            done.set()

    spec = ConsumerSpec(
        durable="bench-latency", subject=DEDUP_SCAN, stream=STREAM_CMD, concurrency=4
    )
    runtime.consume(spec, ScanDuplicates)(handle)
    await runtime.start()
    payload = ScanDuplicates(account_id=account[0], trigger="api")
    for _ in range(count):
        envelope = build_envelope(DEDUP_SCAN, payload, account_id=account[0], generation=account[1])
        async with runtime.sessions() as session, session.begin():
            await outbox.add(session, DEDUP_SCAN, envelope)
        commits[envelope.id] = time.perf_counter()
        await asyncio.sleep(1 / rate)
    await asyncio.wait_for(done.wait(), 120)
    lat = [(seen[i] - commits[i]) * 1000 for i in commits]
    print(
        f"latency commit→handler over {count} msgs at {rate:.0f}/s: "
        f"p50 {percentile(lat, 0.5):.1f} ms, p99 {percentile(lat, 0.99):.1f} ms, "
        f"mean {statistics.mean(lat):.1f} ms"
    )


async def throughput(runtime: Runtime, account: tuple[int, int], count: int) -> None:
    payload = ScanDuplicates(account_id=account[0], trigger="api")
    rows = []
    for _ in range(count):
        envelope = build_envelope(DEDUP_SCAN, payload, account_id=account[0], generation=account[1])
        rows.append(
            {
                "id": envelope.id,
                "subject": DEDUP_SCAN,
                "envelope": envelope.model_dump(mode="json"),
                "account_id": account[0],
                "generation": account[1],
            }
        )
    async with runtime.sessions() as session, session.begin():
        for start in range(0, count, 5000):
            await session.execute(insert(Outbox), rows[start : start + 5000])
    started = time.perf_counter()
    await runtime.start()
    while True:
        async with runtime.sessions() as session:
            left = await session.scalar(
                select(func.count()).select_from(Outbox).where(Outbox.sent_at.is_(None))
            )
        if not left:
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    print(f"relay throughput: {count} rows in {elapsed:.2f} s = {count / elapsed:,.0f} events/s")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--bulk", type=int, default=20000)
    args = parser.parse_args()
    url = await fresh_database()
    prefix = "bench" + uuid.uuid4().hex[:6]
    settings = Settings(
        database_url=url,
        stream_prefix=prefix,
        metrics_port=0,
        log_format="console",
        log_level="warning",
    )
    setup = Runtime(settings, "setup")
    async with setup.sessions() as session, session.begin():
        acc, _ = await create_account(session, name="bench", email="bench@example.com")
    account = (acc.id, acc.generation)
    await setup.engine.dispose()
    try:
        first = Runtime(settings, "bench-latency")
        await latency(first, account, args.messages, args.rate)
        await first.stop()
        second = Runtime(settings, "bench-relay")
        await throughput(second, account, args.bulk)
        await second.stop()
    finally:
        nc = await nats.connect(settings.nats_url)
        for base in ("KITH_CMD", "KITH_EVT", "KITH_DLQ"):
            with contextlib.suppress(Exception):
                await nc.jetstream().delete_stream(f"{prefix}_{base}")
        await nc.close()


if __name__ == "__main__":
    asyncio.run(main())
