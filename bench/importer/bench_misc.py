"""Benchmark: the misc-data phase against a per-contact crawl of the same data (issue #5).

Runs a real importer runtime (NATS + PostgreSQL from KITH_NATS_URL / KITH_DATABASE_URL, or the
machine defaults) against an in-process fake Monica holding N contacts with every misc type,
at the client rate limit given (default: Monica's 55 per minute). It reports the misc phase's
requests (counted by the fake) and wall time. `--baseline` then replays the original's
per-contact crawl (`/contacts/{id}/<type>` for the 8 per-contact types, paged at limit 100)
against the same fake with the limiter off, counting its requests; its wall time at the rate
limit is requests × window / limit (running it for real would take hours). Not collected by
pytest.

    .venv/bin/python bench/importer/bench_misc.py --contacts 1000 --baseline
    .venv/bin/python bench/importer/bench_misc.py --contacts 200 --limit 0 --baseline   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from typing import Any

from kith_common.accounts import create_account
from kith_common.db.migrate import migrate
from kith_common.db.models import Import
from kith_common.monica.client import MonicaClient
from kith_common.settings import Settings
from kith_common.testing.bus import drop_streams
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, generate
from kith_importer.app import build_app
from kith_importer.config import ImporterConfig
from kith_importer.testing import KEY, create, wait_for

MISC_ENDPOINTS = (
    "pets",
    "calls",
    "activities",
    "gifts",
    "debts",
    "tasks",
    "reminders",
    "conversations",
    "lifeevents",
    "journal",
)
PER_CONTACT = (
    "calls",
    "activities",
    "gifts",
    "debts",
    "tasks",
    "reminders",
    "pets",
    "conversations",
)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=os.environ.get(
            "KITH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/kith_bench"
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
    from bench_import import _ensure_database  # the scratch database helper of issue #4

    await _ensure_database(settings.database_url)
    await migrate(settings.database_url)
    runtime = build_app(settings, ImporterConfig.from_settings(settings, encryption_key=KEY))
    await runtime.start()
    world = generate(
        contacts=args.contacts, seed=args.seed, misc_per_contact=args.misc, notes_per_contact=0.0
    )
    fake = FakeMonica(world)
    server = FakeMonicaServer(fake).start()
    result: dict[str, Any] = {
        "contacts": args.contacts,
        "limit_per_window": args.limit,
        "window_seconds": args.window,
        "misc_items": sum(len(world.items.get(e, [])) for e in MISC_ENDPOINTS),
    }
    try:
        async with runtime.sessions() as session, session.begin():
            account, user = await create_account(
                session, name="Bench", email=f"{prefix}@example.org"
            )
        import_id = await create(
            runtime.sessions, (account.id, user.id), server.url, options={"notes": False}
        )
        await wait_for(runtime.sessions, import_id, timeout=3600)
        crawl_done = time.monotonic()
        row = await _misc_done(runtime, import_id)
        result["misc_wall_seconds"] = round(time.monotonic() - crawl_done, 2)
        misc = row.summary.get("misc", {})
        result.update(
            misc_status=row.misc_status,
            misc_requests=sum(fake.count(f"/api/{e}") for e in MISC_ENDPOINTS),
            misc_summary_requests=misc.get("requests"),
            imported={
                k: misc.get(k)
                for k in (
                    "pets",
                    "calls",
                    "activities",
                    "gifts",
                    "debts",
                    "tasks",
                    "reminders",
                    "conversations",
                    "messages",
                    "life_events",
                    "journal_entries",
                )
            },
            misc_rate_limit_wait_seconds=misc.get("rate_limit_wait_seconds"),
            too_many_429=fake.stats()["too_many"],
        )
        if args.baseline:
            result.update(await _baseline(fake, server.url, args))
            result["ratio"] = round(result["baseline_requests"] / result["misc_requests"], 1)
    finally:
        server.stop()
        await runtime.stop()
        await drop_streams(settings.nats_url, prefix)
    return result


async def _misc_done(runtime: Any, import_id: int) -> Import:
    while True:
        async with runtime.sessions() as session:
            row = await session.get(Import, import_id)
        if row is not None and row.misc_status in ("completed", "failed", "cancelled"):
            return row
        await asyncio.sleep(0.2)


async def _baseline(fake: FakeMonica, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The original's per-contact crawl of the same data (limiter off, counted by the fake)."""
    fake.reset_stats()
    started = time.monotonic()
    async with MonicaClient(url, "test-token", allow_private=True) as client:
        for contact in fake.listed_contacts():
            for kind in PER_CONTACT:
                page = 1
                while True:
                    got = await client.page(
                        f"/contacts/{contact.id}/{kind}",
                        page=page,
                        endpoint=f"/contacts/{{id}}/{kind}",
                    )
                    if page >= got.last_page:
                        break
                    page += 1
    requests = int(fake.stats()["total"])
    limit = args.limit or 55
    return {
        "baseline_requests": requests,
        "baseline_wall_seconds_unlimited": round(time.monotonic() - started, 2),
        "baseline_wall_seconds_at_limit": round(requests * args.window / limit, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--misc", type=float, default=3.0, help="misc items per contact (mean)")
    parser.add_argument("--limit", type=int, default=55, help="client limit per window")
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--baseline", action="store_true", help="also run the per-contact crawl")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
