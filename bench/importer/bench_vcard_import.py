"""Benchmark: a large vCard import end to end, processed once, the loop never stalled (#20).

A real importer runtime (NATS + PostgreSQL from KITH_NATS_URL / KITH_DATABASE_URL, or the
machine defaults; scratch database `kith_bench_vcard`) imports a file of tiny cards from file
storage while a probe task in the same process measures how late the event loop wakes it.
Prints wall time, cards/s, the longest loop stall, the start command's deliveries by outcome
(one `ok`, nothing else, means processed once) and the contacts written. Not collected by pytest.

    .venv/bin/python bench/importer/bench_vcard_import.py --cards 50000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
import time
import uuid

from bench_import import _ensure_database  # the same scratch-database helper
from bench_vcard_loop import probe
from sqlalchemy import func, select

from kith_common import imports
from kith_common.accounts import create_account
from kith_common.db.migrate import migrate
from kith_common.db.models import ImportRecord
from kith_common.heap import freeze_startup_heap
from kith_common.metrics import REGISTRY
from kith_common.settings import Settings
from kith_common.storage import account_prefix, open_storage
from kith_common.testing.bus import drop_streams
from kith_importer.app import build_app
from kith_importer.config import ImporterConfig
from kith_importer.testing import KEY, wait_for

GC_PAUSES: list[float] = [0.0]
_gc_started: list[float] = []


def _time_gc(phase: str, _: dict[str, int]) -> None:
    """Record every garbage collection's pause (a stall no thread can avoid)."""
    if phase == "start":
        _gc_started[:] = [time.perf_counter()]
    elif _gc_started:
        GC_PAUSES.append(time.perf_counter() - _gc_started[0])


def cards(n: int) -> bytes:
    return "".join(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:b-{i}\r\nN:Lee{i};Ann;;;\r\nEND:VCARD\r\n"
        for i in range(n)
    ).encode()


def outcomes() -> dict[str, float]:
    found: dict[str, float] = {}
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == "kith_bus_messages_handled_total" and sample.labels.get(
                "consumer", ""
            ).endswith("importer-start"):
                found[sample.labels["outcome"]] = sample.value
    return found


async def run(args: argparse.Namespace) -> None:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    storage_url = f"file://{tempfile.mkdtemp(prefix='kith-vcard-')}"
    settings = Settings(
        database_url=os.environ.get(
            "KITH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/kith_bench_vcard"
        ),
        nats_url=os.environ.get("KITH_NATS_URL", "nats://127.0.0.1:4222"),
        stream_prefix=prefix,
        storage_url=storage_url,
        metrics_port=0,
        log_level="warning",
        log_format="console",
        vcard_max_cards=max(args.cards, 1),
    )
    await _ensure_database(settings.database_url)
    await migrate(settings.database_url)
    runtime = build_app(settings, ImporterConfig.from_settings(settings, encryption_key=KEY))
    await runtime.start()
    freeze_startup_heap()  # as `kith serve` does once a service is up
    data = cards(args.cards)
    gc.callbacks.append(_time_gc)
    stalls: list[float] = []
    stop = asyncio.Event()
    watcher = asyncio.create_task(probe(stalls, stop))
    try:
        async with runtime.sessions() as session, session.begin():
            account, user = await create_account(
                session, name="Bench", email=f"{prefix}@example.org"
            )
        key = f"{account_prefix(account.id)}imports/{uuid.uuid4()}.vcf"
        await open_storage(storage_url).put(key, data)
        started = time.monotonic()
        async with runtime.sessions() as session, session.begin():
            row = await imports.create_import(
                session,
                account_id=account.id,
                user_id=user.id,
                encryption_key=KEY,
                source="vcard",
                options={},
                file_name="bench.vcf",
                file_size=len(data),
                file_storage_key=key,
            )
        done = await wait_for(runtime.sessions, row.id, timeout=7200)
        wall = time.monotonic() - started
        async with runtime.sessions() as session:
            records = await session.scalar(
                select(func.count())
                .select_from(ImportRecord)
                .where(ImportRecord.import_id == row.id)
            )
    finally:
        stop.set()
        await watcher
        await runtime.stop()
        await drop_streams(settings.nats_url, prefix)
    print(f"file: {len(data) / 2**20:.1f} MiB, {args.cards} cards; status {done.status}")
    print(f"wall {wall:.1f} s, {args.cards / wall:.0f} cards/s")
    ordered = sorted(stalls)
    print(
        f"loop stalls over {len(stalls)} probes: longest {ordered[-1] * 1000:.0f} ms, "
        f"p99 {ordered[int(len(ordered) * 0.99)] * 1000:.0f} ms, "
        f"{sum(s > 0.1 for s in stalls)} over 100 ms; "
        f"longest GC pause {max(GC_PAUSES) * 1000:.0f} ms"
    )
    print(f"start command deliveries by outcome: {outcomes()}; import records {records}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=50_000)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
