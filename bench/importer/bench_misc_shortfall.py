"""Benchmark: the misc phase's shortfall re-fetch under tie drops (issue #5, importer.md §8).

Like `bench_misc.py`, but the fake drops rows from every account-wide misc list: its tie-drop
knob shuffles each tie group per page (API §11.1), and generated misc items share one
`created_at`, so each page of a list is a different sample of one big tie group (the worst
case: a bulk import into Monica). Per-contact lists are served whole. Reports the lists'
requests, the per-contact re-fetches (only contacts whose `statistics` count exceeds what was
imported), items recovered and still missing, against re-fetching every contact blindly
(contacts × 6 types). Not collected by pytest.

    .venv/bin/python bench/importer/bench_misc_shortfall.py --contacts 1000 --limit 0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from typing import Any

from bench_import import _ensure_database  # the scratch database helper of issue #4
from bench_misc import MISC_ENDPOINTS, _misc_done

from kith_common.accounts import create_account
from kith_common.db.migrate import migrate
from kith_common.settings import Settings
from kith_common.testing.bus import drop_streams
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, generate
from kith_importer.app import build_app
from kith_importer.config import ImporterConfig
from kith_importer.testing import KEY, create, wait_for

REFETCHABLE = {  # endpoint → summary.misc count
    "calls": "calls",
    "activities": "activities",
    "gifts": "gifts",
    "debts": "debts",
    "tasks": "tasks",
    "reminders": "reminders",
}


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
    await _ensure_database(settings.database_url)
    await migrate(settings.database_url)
    runtime = build_app(settings, ImporterConfig.from_settings(settings, encryption_key=KEY))
    await runtime.start()
    world = generate(
        contacts=args.contacts, seed=args.seed, misc_per_contact=args.misc, notes_per_contact=0.0
    )
    fake = FakeMonica(world, tie_drop={"contacts", *MISC_ENDPOINTS})
    server = FakeMonicaServer(fake).start()
    result: dict[str, Any] = {"contacts": args.contacts, "limit_per_window": args.limit}
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
        fake.reset_stats()
        row = await _misc_done(runtime, import_id)
        result["misc_wall_seconds"] = round(time.monotonic() - crawl_done, 2)
        misc = row.summary.get("misc", {})
        per_type = {}
        for endpoint, count in REFETCHABLE.items():
            items = world.items.get(endpoint, [])
            owners = {
                c
                for i in items
                for c in (i.get("attendee_ids") or [i.get("contact_id")])
                if c is not None
            }
            per_type[endpoint] = {
                "items": len(items),
                "contacts_with_items": len(owners),
                "imported": misc.get(count),
                "missing": misc.get("missing", {}).get(count, 0),
                "list_requests": fake.count(f"/api/{endpoint}"),
                "refetch_requests": fake.count(f"/api/contacts/{{id}}/{endpoint}"),
            }
        refetches = sum(t["refetch_requests"] for t in per_type.values())
        lists = sum(fake.count(f"/api/{e}") for e in MISC_ENDPOINTS)
        blind = len(fake.listed_contacts()) * len(REFETCHABLE)
        limit = args.limit or 55
        result.update(
            misc_status=row.misc_status,
            per_type=per_type,
            skipped=misc.get("skipped"),
            list_requests=lists,
            refetch_requests=refetches,
            misc_requests=lists + refetches,
            summary_requests=misc.get("requests"),
            blind_refetch_requests=blind,
            requests_at_55_per_min_seconds=round((lists + refetches) * 60 / 55, 1),
            too_many_429=fake.stats()["too_many"],
            limit_used=limit,
        )
    finally:
        server.stop()
        await runtime.stop()
        await drop_streams(settings.nats_url, prefix)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--misc", type=float, default=3.0, help="misc items per contact (mean)")
    parser.add_argument("--limit", type=int, default=0, help="client limit per window (0: off)")
    parser.add_argument("--window", type=float, default=60.0)
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
