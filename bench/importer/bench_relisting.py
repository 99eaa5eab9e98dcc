"""Benchmark: an import's requests with the re-listing of torn tie groups (issue #17).

Runs a real importer runtime (NATS + PostgreSQL from KITH_NATS_URL / KITH_DATABASE_URL, or the
machine defaults; a scratch database) against an in-process fake Monica, through the crawl and
the misc-data phase, with auto-merge and every misc type on. The world: N contacts created in
bursts of up to 34 (≈ 3 % tie drops at limit 100), notes and misc items stamped in their
contact's burst, every account-wide list tie-dropped like the contacts' listing; ids dense, or
hosted (`--hosted`: spread a hundredfold, 1 % dense, the other tenants' ids answering 404).

It prints, side by side for the same world in one run:
- after: the requests the import made (counted by the fake and by the summary, by phase and
  purpose), the torn groups, what is still unresolved;
- before: the requests the previous algorithm makes on the same listing, from a model of it
  (coverage backfill: a probe, then GETs of unlisted ids within ±10 of the torn boundaries'
  groups, then of [min(L), max(L) + 50], until the gap closes; notes and misc: the per-contact
  re-fetch of every contact that lost items, types without one losing them);
- the bound of the issue: pages of every list at limit 100 + torn groups + 5;
- the wall time, and with `--limit` the ratio to requests ÷ rate.
Photos and documents are off (the photos service is not part of this runtime). Not collected
by pytest.

    .venv/bin/python bench/importer/bench_relisting.py --contacts 1000
    .venv/bin/python bench/importer/bench_relisting.py --contacts 1000 --hosted
    .venv/bin/python bench/importer/bench_relisting.py --contacts 1000 --limit 55  # real pace
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import time
import uuid
from typing import Any

from bench_import import (  # type: ignore[import-not-found]
    _analyze,
    _ensure_database,
    bench_settings,
)
from bench_misc import MISC_ENDPOINTS, _misc_done  # type: ignore[import-not-found]

from kith_common.accounts import create_account
from kith_common.db.migrate import migrate
from kith_common.monica.relisting import Listed, tie_groups
from kith_common.testing.bus import drop_streams
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, World, generate
from kith_importer.app import build_app
from kith_importer.config import ImporterConfig
from kith_importer.testing import KEY, create

LISTS = ("notes", *MISC_ENDPOINTS)
# The misc types the previous algorithm re-fetched per contact (importer.md §8 Shortfall).
PER_CONTACT = ("calls", "activities", "gifts", "debts", "tasks", "reminders")
BURSTS = (1, 1, 1, 1, 2, 3, 8, 14, 20, 34)


def build_world(args: argparse.Namespace) -> World:
    world = generate(
        contacts=args.contacts,
        seed=args.seed,
        burst_sizes=BURSTS,
        id_spread=100 if args.hosted else 1,
        partial_ratio=0.05,
        inactive_ratio=0.02,
        duplicate_ratio=0.03,
        notes_per_contact=0.5,
        misc_per_contact=1.0,
        relationship_ratio=0.05,
    )
    # Items written with their contact (a vCard or CSV import into Monica): one stamp a burst.
    for endpoint, items in world.items.items():
        for item in items:
            owner = item.get("contact_id") or (item.get("attendee_ids") or [None])[0]
            if owner in world.contacts:
                item["created_at"] = world.contacts[owner].created_at
                if endpoint == "calls":
                    item["called_at"] = item["created_at"]
    return world


def previous_backfill(fake: FakeMonica) -> int:
    """The previous backfill's requests on this listing (a probe, then direct GETs)."""
    rows = fake.listed_contacts()
    listable = {c.id for c in rows}
    pages = [
        fake._contacts_page(rows, None, 100, page)
        for page in range(1, math.ceil(len(rows) / 100) + 1)
    ]
    listed = {c.id for page in pages for c in page}
    missing = listable - listed
    by_created: dict[str, list[int]] = {}
    for page in pages:
        for c in page:
            by_created.setdefault(c.created_at, []).append(c.id)
    torn: list[str] = []
    for before, after in itertools.pairwise(pages):
        if before and after and before[-1].created_at == after[0].created_at:
            torn.append(before[-1].created_at)
        both = {c.id for c in before} & {c.id for c in after}
        torn += [c.created_at for c in before if c.id in both]
    order: dict[int, None] = {}  # insertion-ordered, each id once
    for created in dict.fromkeys(torn):
        members = sorted(set(by_created[created]))
        window = range(min(members) - 10, max(members) + 11)
        near = sorted(
            (m for m in window if m > 0 and m not in listed),
            key=lambda m: (min(abs(m - x) for x in members), m),
        )
        order.update(dict.fromkeys(near))
    found, gets = 0, 0
    tail = (m for m in range(min(listed), max(listed) + 51) if m not in listed)
    for mid in itertools.chain(order, (m for m in tail if m not in order)):
        if found >= len(missing):
            break
        gets += 1
        found += mid in missing
    return 1 + gets


def torn_groups_of_lists(fake: FakeMonica) -> dict[str, int]:
    """The torn tie groups each account-wide list shows when crawled at limit 100."""
    torn: dict[str, int] = {}
    for name in LISTS:
        rows = fake._item_rows(name, 1)
        column = "called_at" if name == "calls" else "created_at"
        listed = [
            Listed(item["id"], item.get(column))
            for page in range(1, math.ceil(len(rows) / 100) + 1)
            for item in fake._items_page(name, rows, None, 100, page)
        ]
        count = sum(1 for g in tie_groups(listed) if g.torn)
        if count:
            torn[name] = count
    return torn


def previous_lists(fake: FakeMonica) -> tuple[int, dict[str, int]]:
    """The previous per-contact re-fetches of the account-wide lists, and what stayed lost."""
    refetches, lost = 0, {}
    for name in LISTS:
        dropped = fake.expected_unlisted_items(name)
        if not dropped:
            continue
        if name == "notes" or name in PER_CONTACT:
            owners = {
                i.get("contact_id") or (i.get("attendee_ids") or [None])[0]
                for i in fake.world.items[name]
                if i["id"] in dropped
            }
            refetches += len(owners)
        else:
            lost[name] = len(dropped)
    return refetches, lost


async def run(args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = bench_settings("kith_bench_relist", prefix, args)
    await _ensure_database(settings.database_url)
    await migrate(settings.database_url)
    await _analyze(settings.database_url)
    world = build_world(args)
    fake = FakeMonica(world, tie_drop={"contacts", *LISTS})
    before_backfill = previous_backfill(fake)
    before_refetches, before_lost = previous_lists(fake)
    list_torn = torn_groups_of_lists(fake)
    pages = 4 + math.ceil(len(fake.listed_contacts()) / 100)
    pages += sum(max(1, math.ceil(len(world.items.get(name, [])) / 100)) for name in LISTS)
    runtime = build_app(settings, ImporterConfig.from_settings(settings, encryption_key=KEY))
    await runtime.start()
    try:
        async with runtime.sessions() as session, session.begin():
            account, user = await create_account(
                session, name="Bench", email=f"{prefix}@example.org"
            )
        with FakeMonicaServer(fake) as server:
            started = time.monotonic()
            import_id = await create(runtime.sessions, (account.id, user.id), server.url)
            row = await _misc_done(runtime, import_id)
            wall = time.monotonic() - started
            stats = fake.stats()
            log = list(fake.log)
    finally:
        await runtime.stop()
        await drop_streams(settings.nats_url, prefix)
    summary, misc = row.summary, row.summary.get("misc", {})
    backfill = summary.get("coverage_backfill", {})
    torn = int(backfill.get("torn_groups", 0)) + sum(list_torn.values())
    requests = stats["total"]
    before = requests - int(backfill.get("requests", 0)) + before_backfill
    before += before_refetches - _relisting(summary, misc)
    rate = args.window / args.limit if args.limit else None
    return {
        "contacts": args.contacts,
        "ids": "hosted (1 % dense)" if args.hosted else "dense",
        "status": row.status,
        "misc_status": row.misc_status,
        "contacts_imported": summary.get("contacts"),
        "unlisted_contacts": len(fake.expected_unlisted(100)),
        "torn_groups": torn,
        "torn_groups_of_other_lists": list_torn,
        "unresolved_gap": backfill.get("unresolved_gap"),
        "misc_missing": misc.get("missing"),
        "requests_after": requests,
        "requests_before_model": before,
        "backfill_requests_after": backfill.get("requests"),
        "backfill_requests_before_model": before_backfill,
        "per_contact_refetches_before_model": before_refetches,
        "items_lost_before_model": before_lost,
        "pages_of_every_list": pages,
        "bound_pages_torn_plus_5": pages + torn + 5,
        "requests_by_phase": {**summary.get("requests_by_phase", {}), **_misc_by(misc)},
        "too_many_429": stats["too_many"],
        "wall_seconds": round(wall, 1),
        "requests_times_interval_seconds": None if rate is None else round(requests * rate, 1),
        "wall_over_requests_times_interval": None
        if rate is None
        else round(wall / (requests * rate), 3),
        "longest_gaps_between_requests": _gaps(log, rate),
    }


def _gaps(log: list[Any], rate: float | None) -> list[str]:
    """The three longest pauses between two requests beyond the limiter's spacing: local work
    that no request overlapped (what separates the wall time from requests ÷ rate)."""
    spacing = rate or 0.0
    gaps = [
        (b.at - a.at - spacing, f"{a.endpoint} -> {b.endpoint}")
        for a, b in itertools.pairwise(sorted(log, key=lambda e: e.at))
    ]
    gaps.sort(reverse=True)
    return [f"{seconds:.1f} s {where}" for seconds, where in gaps[:3] if seconds > 0.05]


def _relisting(summary: dict[str, Any], misc: dict[str, Any]) -> int:
    """Requests spent re-listing or re-fetching lists other than the contacts' listing."""
    spent = 0
    for phase, purposes in {**summary.get("requests_by_phase", {}), **_misc_by(misc)}.items():
        if phase != "coverage_backfill":
            spent += purposes.get("relisting", 0) + purposes.get("per_contact", 0)
    return spent


def _misc_by(misc: dict[str, Any]) -> dict[str, dict[str, int]]:
    by: dict[str, dict[str, int]] = misc.get("requests_by_phase", {})
    return by


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--hosted", action="store_true", help="ids spread a hundredfold")
    parser.add_argument("--limit", type=int, default=0, help="client requests per window")
    parser.add_argument("--window", type=float, default=60.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
