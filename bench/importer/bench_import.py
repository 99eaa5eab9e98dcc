"""Benchmark: a Monica import against the fake (importer.md §15, issue #4).

Runs a real importer runtime (NATS + PostgreSQL from KITH_NATS_URL / KITH_DATABASE_URL, or the
machine defaults) against an in-process fake Monica over HTTP, and prints requests, wall time
and contacts/s, plus the SQL statements the importer's engine sent (per imported contact), the
time spent inside them and the importer process's CPU time over the import. Not collected by
pytest.

    .venv/bin/python bench/importer/bench_import.py --contacts 1000            # limit off
    .venv/bin/python bench/importer/bench_import.py --contacts 1000 --limit 55 --fake-limit 60
    .venv/bin/python bench/importer/bench_import.py --contacts 1000 --density 0.7
    .venv/bin/python bench/importer/bench_import.py --contacts 1000 --latency 0.2  # remote Monica

With `--limit N --window S` the client and the fake both use an S-second window (the default
60 s makes a 1,000-contact import take about as long as Monica would allow: minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import httpx
import uvloop
from sqlalchemy import event
from sqlalchemy.engine import Engine

from kith_common.accounts import create_account
from kith_common.db.migrate import migrate
from kith_common.heap import freeze_startup_heap
from kith_common.logging import configure_logging
from kith_common.ports import free_port
from kith_common.settings import Settings
from kith_common.testing.bus import drop_streams
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, generate
from kith_importer.app import build_app
from kith_importer.config import ImporterConfig
from kith_importer.testing import KEY, create, wait_for

# Statement text (first 90 characters) → [count, seconds inside it], for --top-statements.
BY_STATEMENT: dict[str, list[float]] = {}


def bench_settings(database: str, prefix: str, args: argparse.Namespace) -> Settings:
    """A bench runtime's settings: its own scratch `database` (unless KITH_DATABASE_URL names
    one), a fresh stream `prefix`, the client rate limit of `--limit` per `--window`."""
    return Settings(
        database_url=os.environ.get(
            "KITH_DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
        ),
        nats_url=os.environ.get("KITH_NATS_URL", "nats://127.0.0.1:4222"),
        stream_prefix=prefix,
        metrics_port=0,
        import_allow_private_hosts=True,
        monica_rate_limit_per_minute=args.limit,
        monica_rate_limit_window_seconds=args.window,
        log_level="warning",
        log_format="console",
    )


async def run(args: argparse.Namespace) -> dict[str, object]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = bench_settings("kith_bench_importer", prefix, args)
    await _ensure_database(settings.database_url)
    await migrate(settings.database_url)
    if not args.no_analyze:
        await _analyze(settings.database_url)
    runtime = build_app(settings, ImporterConfig.from_settings(settings, encryption_key=KEY))
    await runtime.start()
    freeze_startup_heap()  # as `kith serve` does once a service is up
    sql = _count_statements()
    phase_times = _time_phases(sql)
    world = generate(
        contacts=args.contacts,
        seed=args.seed,
        id_density=args.density,
        notes_per_contact=args.notes,
        relationship_ratio=0.05,
    )
    fake = FakeMonica(
        world, rate_limit=args.fake_limit, rate_window=args.window, latency=args.latency
    )
    try:
        async with runtime.sessions() as session, session.begin():
            account, user = await create_account(
                session, name="Bench", email=f"{prefix}@example.org"
            )
        fake_pid: int | None = None
        if args.fake_process:
            url, stop, fake_pid = _fake_process(fake, args)
        else:
            server = FakeMonicaServer(fake).start()
            url, stop = server.url, server.stop
        try:
            profiler = _profiler(args.profile)
            others_started = _others_cpu(fake_pid)
            started, cpu_started = time.monotonic(), time.process_time()
            sql.update(count=0, seconds=0.0)
            BY_STATEMENT.clear()
            import_id = await create(
                runtime.sessions,
                (account.id, user.id),
                url,
                options={"auto_merge_duplicates": True},
            )
            row = await wait_for(runtime.sessions, import_id, timeout=3600)
            wall = time.monotonic() - started
            cpu = time.process_time() - cpu_started
            others = {k: v - others_started.get(k, 0.0) for k, v in _others_cpu(fake_pid).items()}
            if profiler is not None:
                profiler.stop()
                with open(args.profile, "w") as out:
                    out.write(profiler.output_text(unicode=True, show_all=False))
                profiler.last_session.save(args.profile + ".pyisession")
            statements, sql_seconds = sql["count"], sql["seconds"]
            if args.top_statements:
                top = sorted(
                    BY_STATEMENT.items(),
                    key=lambda item: -item[1][1],
                )[: args.top_statements]
                for text, (n, seconds) in top:
                    print(f"{seconds:7.3f} s {int(n):6d}x  {text}", file=sys.stderr)
            stats = httpx.get(url + "/__fake/stats").json()
        finally:
            # The importer first: its misc phase is still paging, and without its Monica it
            # would retry for half a minute before it let the runtime stop.
            await runtime.stop()
            stop()
    finally:
        await runtime.stop()
        await drop_streams(settings.nats_url, prefix)
    summary = row.summary
    dropped = fake.expected_unlisted(100)
    listed = {c.id for c in fake.listed_contacts()} - dropped
    low = min(listed)
    # The original's blind scan: every unlisted id of [min(L), max(L) + 50], ascending; with an
    # early stop it ends at the last dropped id.
    blind_full = sum(1 for i in range(low, max(listed) + 51) if i not in listed)
    blind_early = sum(1 for i in range(low, max(dropped) + 1) if i not in listed) if dropped else 0
    backfill = summary.get("coverage_backfill", {})
    return {
        "contacts": args.contacts,
        "density": args.density,
        "limit_per_window": args.limit,
        "window_seconds": args.window,
        "latency_seconds": args.latency,
        "status": row.status,
        "imported": summary.get("contacts"),
        "notes": summary.get("notes"),
        "requests": summary.get("requests"),
        "fake_requests": stats["total"],
        "too_many_429": stats["too_many"],
        "direct_gets": sum(
            n for k, n in stats["counts"].items() if k.startswith("/api/contacts/{id} ")
        ),
        "unlisted": len(dropped),
        "recovered_full": backfill.get("imported_full"),
        "backfill_requests": backfill.get("requests"),
        "blind_scan_requests": blind_full,
        "blind_scan_early_stop_requests": blind_early,
        "unresolved_gap": summary.get("coverage_backfill", {}).get("unresolved_gap"),
        "wall_seconds": round(wall, 2),
        "contacts_per_second": round((summary.get("contacts") or 0) / wall, 1),
        "rate_limit_wait_seconds": summary.get("rate_limit_wait_seconds"),
        "sql_statements": statements,
        "statements_per_contact": round(statements / max(1, summary.get("contacts") or 0), 2),
        "sql_seconds": round(sql_seconds, 2),
        "importer_cpu_seconds": round(cpu, 2),
        "postgres_cpu_seconds": round(others["postgres"], 2),
        "fake_cpu_seconds": round(others["fake"], 2) if fake_pid else None,
        "box_cpu_seconds": round(others["box"], 2),
        # The most this box could do with every core busy for the whole import and nothing
        # waiting: the import's CPU (all processes) spread over the cores.
        "cpu_bound_contacts_per_second": round(
            (summary.get("contacts") or 0) / max(others["box"] / (os.cpu_count() or 1), 1e-9), 1
        ),
        "merged": summary.get("merged"),
        "relationships": summary.get("relationships"),
        "phases_wall_cpu_statements": {
            k: [round(w, 2), round(c, 2), int(n)] for k, (w, c, n) in phase_times.items()
        },
    }


def _time_phases(sql: dict[str, float]) -> dict[str, tuple[float, float, float]]:
    """(wall s, process CPU s, SQL statements) per crawl phase, by wrapping the phase table in
    place (statements of every engine of the process while the phase ran)."""
    from kith_importer import phases

    times: dict[str, tuple[float, float, float]] = {}

    def timed(name: str, run):  # type: ignore[no-untyped-def]
        async def wrapper(crawl):  # type: ignore[no-untyped-def]
            wall, cpu, count = time.monotonic(), time.process_time(), sql["count"]
            try:
                await run(crawl)
            finally:
                before = times.get(name, (0.0, 0.0, 0.0))
                times[name] = (
                    before[0] + time.monotonic() - wall,
                    before[1] + time.process_time() - cpu,
                    before[2] + sql["count"] - count,
                )

        return wrapper

    for name, run in list(phases.PIPELINE.items()):
        phases.PIPELINE[name] = timed(name, run)
    return times


def _what_if_step(contacts: int) -> None:
    """Experiment only: let every crawl step cover `contacts` contacts instead of importer.md
    §7.0's ≤ 10 (and auto-merge half as many pairs), to measure what that rule costs. The
    crawl modules import the constant by value, so each copy is replaced."""
    import pkgutil
    from importlib import import_module

    from kith_importer import crawl, phases

    crawl.CHUNK = contacts  # type: ignore[misc]
    for info in pkgutil.iter_modules(phases.__path__):
        module = import_module(f"{phases.__name__}.{info.name}")
        if hasattr(module, "CHUNK"):
            module.CHUNK = contacts
    phases.auto_merge.PAIRS_PER_STEP = contacts // 2


def _profiler(path: str | None):  # type: ignore[no-untyped-def]
    """A pyinstrument sampling profiler over the import (the whole process: importer, relay,
    the bench's polls), or None. Its report goes to `path`."""
    if not path:
        return None
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="disabled")
    profiler.start()
    return profiler


def _count_statements() -> dict[str, float]:
    """Count statements and their round-trip time with SQLAlchemy's cursor events.

    Listens on the Engine class, so every engine of the process counts (consumer inbox, fence,
    outbox relay, the bench's own status polls too): what one import costs the database end to
    end.
    """
    totals: dict[str, float] = {"count": 0, "seconds": 0.0}

    @event.listens_for(Engine, "before_cursor_execute")
    def before(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    @event.listens_for(Engine, "after_cursor_execute")
    def after(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        took = time.perf_counter() - conn.info["bench_started"].pop()
        totals["count"] += 1
        totals["seconds"] += took
        entry = BY_STATEMENT.setdefault(" ".join(statement.split())[:90], [0, 0.0])
        entry[0] += 1
        entry[1] += took

    return totals


async def _ensure_database(url: str) -> None:
    """Create the scratch database on first use (never the application's own)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", parsed.database):
            await conn.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await conn.close()


async def _analyze(url: str) -> None:
    """VACUUM ANALYZE the scratch database (earlier runs' rows), as autovacuum would have.

    The bench box's PostgreSQL runs with autovacuum off, so without this no table ever has
    statistics, and the dead rows of every earlier run (outbox, staging) stay in the indexes:
    the relay's backlog count took 0.5 s after a few dozen runs. The import's own account is
    still newer than the statistics, as in a production database during a first import: plans
    that assume it has one row show up here too.
    """
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    conn = await asyncpg.connect(parsed.render_as_string(hide_password=False))
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def _others_cpu(fake_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of every PostgreSQL process on this host, of the fake's process and
    of the whole box (all cores), so a run shows what the import cost beside the importer."""
    import psutil

    postgres = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if proc.info["name"] in {"postgres", "postmaster"} and times is not None:
            postgres += times.user + times.system
    fake = 0.0
    if fake_pid is not None:
        times = psutil.Process(fake_pid).cpu_times()
        fake = times.user + times.system
    box = psutil.cpu_times()
    return {"postgres": postgres, "fake": fake, "box": box.user + box.system}


def _fake_process(fake: FakeMonica, args: argparse.Namespace) -> tuple[str, object, int]:
    """The fake in a process of its own, so it does not share the importer's GIL."""
    fixture = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)  # noqa: SIM115
    fixture.write(fake.world.to_json())
    fixture.close()
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kith_common.testing.fake_monica",
            "--fixture",
            fixture.name,
            "--port",
            str(port),
            "--rate-limit",
            str(args.fake_limit),
            "--rate-window",
            str(args.window),
            "--latency",
            str(args.latency),
        ],
    )
    url = f"http://127.0.0.1:{port}"
    # One client for the startup poll: a client per try costs an SSL context each (~0.1 s of
    # CPU here), which showed up in the profile as the bench's biggest CPU item.
    with httpx.Client() as client:
        for _ in range(200):
            try:
                client.get(url + "/__fake/stats")
                break
            except httpx.TransportError:
                time.sleep(0.05)

    def stop() -> None:
        proc.terminate()
        proc.wait(10)
        os.unlink(fixture.name)

    return url, stop, proc.pid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--density", type=float, default=1.0)
    parser.add_argument("--notes", type=float, default=0.5)
    parser.add_argument("--limit", type=int, default=0, help="client limit per window (0 = off)")
    parser.add_argument("--fake-limit", type=int, default=0, help="the fake's limit per window")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds each fake answer waits (remote Monica)"
    )
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--fake-process", action="store_true", help="run the fake in a subprocess")
    parser.add_argument("--profile", help="write a pyinstrument profile of the import to this file")
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="skip VACUUM ANALYZE of the scratch database before the import",
    )
    parser.add_argument(
        "--top-statements",
        type=int,
        default=0,
        help="print the N statements (first 90 characters) with most time inside them to stderr",
    )
    parser.add_argument(
        "--what-if-step",
        type=int,
        default=0,
        help="experiment: contacts per crawl step instead of importer.md's 10 (0 = as built)",
    )
    # Warnings only, to stderr: structlog's default prints every info line to stdout, which
    # costs the importer time and mixes with the JSON result.
    configure_logging(service="bench", log_format="console", level="warning")
    args = parser.parse_args()
    if args.what_if_step:
        _what_if_step(args.what_if_step)
    # uvloop, as `kith serve` runs every service.
    print(json.dumps(uvloop.run(run(args))))


if __name__ == "__main__":
    main()
