"""Dedup benchmark (dedup.md §3.6): our full and incremental scans vs the original's queries.

Run by hand (never collected by pytest), against a scratch database:

    .venv/bin/python bench/dedup/run.py \
        --database-url postgresql://postgres@127.0.0.1:5432/kith_bench_dedup \
        --full 10000 50000 --original 10000 --incremental 100000

Each size gets a fresh account; results print as Markdown rows for docs/performance.md.
Needs Faker (`uv pip install faker`, the `bench` extra of kith-dedup).

After each full scan, one line per order of the review list (issue 18):
`ranking order=<confidence|score> contacts=<N> precision_at_50=<x> precision_at_500=<x>
average_precision=<x> recall=<x>`: precision at k over the pending list in the API's order
(confidence DESC, id or score DESC, id), average precision over the whole list (each truth
pair found counts the precision at its rank; divided by all live truth pairs), and recall of
the candidate set, all against the generator's truth. `--generator classic` replays the
generator before issue 18; `--edit N` times the incremental scan after one contact edit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).parent))

from generate import Generated, generate, write

from kith_common import fence
from kith_common.accounts import create_account
from kith_common.db.migrate import migrate
from kith_common.db.session import create_engine, session_factory
from kith_dedup.detection import float4
from kith_dedup.queries import read_snapshot
from kith_dedup.scans import ScanRequest, run_scan

ORIGINAL = {
    # The original's queries (seed PR #23): trigram self-join with LIMIT 500, email with
    # LOWER/TRIM and protocol LIKE on both sides, phone by equality of stored values,
    # address on lower/trimmed line1 + postal code; no live filter.
    "name": """
        SELECT c1.id, c2.id FROM contacts c1
        JOIN contacts c2 ON c2.account_id = c1.account_id AND c1.id < c2.id
        WHERE c1.account_id = $1 AND similarity(c1.display_name, c2.display_name) > 0.5
        ORDER BY similarity(c1.display_name, c2.display_name) DESC LIMIT 500""",
    "email": """
        SELECT DISTINCT f1.contact_id, f2.contact_id FROM contact_fields f1
        JOIN contact_field_types t1 ON t1.id = f1.contact_field_type_id
        JOIN contact_fields f2 ON f2.account_id = f1.account_id
             AND f1.contact_id < f2.contact_id
             AND LOWER(TRIM(f1.value)) = LOWER(TRIM(f2.value))
        JOIN contact_field_types t2 ON t2.id = f2.contact_field_type_id
        WHERE f1.account_id = $1 AND t1.protocol LIKE 'mailto%' AND t2.protocol LIKE 'mailto%'
          AND TRIM(f1.value) <> '' AND TRIM(f2.value) <> ''""",
    "phone": """
        SELECT DISTINCT f1.contact_id, f2.contact_id FROM contact_fields f1
        JOIN contact_field_types t1 ON t1.id = f1.contact_field_type_id
        JOIN contact_fields f2 ON f2.account_id = f1.account_id
             AND f1.contact_id < f2.contact_id AND f1.value = f2.value
        JOIN contact_field_types t2 ON t2.id = f2.contact_field_type_id
        WHERE f1.account_id = $1 AND t1.protocol LIKE 'tel%' AND t2.protocol LIKE 'tel%'""",
    "address": """
        SELECT DISTINCT a1.contact_id, a2.contact_id FROM addresses a1
        JOIN addresses a2 ON a2.account_id = a1.account_id AND a1.contact_id < a2.contact_id
             AND LOWER(TRIM(a1.line1)) = LOWER(TRIM(a2.line1))
             AND LOWER(TRIM(a1.postal_code)) = LOWER(TRIM(a2.postal_code))
        WHERE a1.account_id = $1 AND TRIM(a1.line1) <> '' AND TRIM(a1.postal_code) <> ''""",
}


def asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def new_account(sessions: Any) -> int:
    async with sessions() as session, session.begin():
        account, _ = await create_account(
            session, name="bench", email=f"bench-{uuid.uuid4().hex}@example.com"
        )
        return int(account.id)


async def seed_account(
    url: str, sessions: Any, size: int, seed: int, *, hard: bool = True
) -> tuple[int, list[int], Generated]:
    data = generate(size, seed, hard=hard)
    account_id = await new_account(sessions)
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        started = time.perf_counter()
        ids = await write(conn, account_id, data.people)
        await conn.execute("ANALYZE contacts; ANALYZE contact_fields; ANALYZE addresses")
        print(f"# seeded {size} contacts in {time.perf_counter() - started:.1f}s", flush=True)
    finally:
        await conn.close()
    return account_id, ids, data


async def our_scan(
    sessions: Any,
    account_id: int,
    import_id: int | None = None,
    contact_ids: tuple[int, ...] | None = None,
) -> tuple[Any, float]:
    @contextlib.asynccontextmanager
    async def unit_of_work() -> AsyncIterator[Any]:
        async with sessions() as session, session.begin():
            await fence.hold(session, account_id, None)
            yield session

    async def nothing(*_: Any) -> None:
        return None

    trigger = "contact_change" if contact_ids else "api"
    request = ScanRequest(uuid.uuid4(), account_id, trigger, import_id, contact_ids)
    started = time.perf_counter()
    result = await run_scan(
        request, sessions=sessions, unit_of_work=unit_of_work, heartbeat=nothing, publish=nothing
    )
    return result, time.perf_counter() - started


async def found_pairs(url: str, account_id: int) -> set[tuple[int, int]]:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        rows = await conn.fetch(
            "SELECT contact_id, duplicate_contact_id FROM duplicate_candidates"
            " WHERE account_id = $1 AND status = 'pending'",
            account_id,
        )
    finally:
        await conn.close()
    return {(r[0], r[1]) for r in rows}


def recall(
    truth: list[tuple[int, int, str]], data: Generated, ids: list[int], found: set[tuple[int, int]]
) -> tuple[str, int]:
    per: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    deleted_found = 0
    for a, b, kind in truth:
        pair = (min(ids[a], ids[b]), max(ids[a], ids[b]))
        if data.people[a].deleted or data.people[b].deleted:
            deleted_found += pair in found
            continue
        per[kind] += 1
        hit[kind] += pair in found
    total = sum(per.values())
    text = f"{sum(hit.values()) / max(total, 1):.1%} of {total}; " + ", ".join(
        f"{k} {hit[k]}/{per[k]}" for k in sorted(per)
    )
    return text, deleted_found


def live_truth(data: Generated, ids: list[int]) -> dict[tuple[int, int], str]:
    """Truth pairs with both sides live, as (low id, high id) → perturbation."""
    return {
        (min(ids[a], ids[b]), max(ids[a], ids[b])): kind
        for a, b, kind in data.truth
        if not data.people[a].deleted and not data.people[b].deleted
    }


async def ranking(url: str, account_id: int, truth: dict[tuple[int, int], str], size: int) -> None:
    """Print the two `ranking` lines: the pending list in each order against the truth."""
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        for order, key in (("confidence", "confidence DESC, id"), ("score", "score DESC, id")):
            rows = await conn.fetch(
                "SELECT contact_id, duplicate_contact_id FROM duplicate_candidates"
                f" WHERE account_id = $1 AND status = 'pending' ORDER BY {key}",
                account_id,
            )
            hits = [(r[0], r[1]) in truth for r in rows]
            found = sum(hits)
            seen = 0
            precision_sum = 0.0
            for rank, hit in enumerate(hits, 1):
                if hit:
                    seen += 1
                    precision_sum += seen / rank
            print(
                f"ranking order={order} contacts={size}"
                f" precision_at_50={sum(hits[:50]) / max(min(50, len(hits)), 1):.3f}"
                f" precision_at_500={sum(hits[:500]) / max(min(500, len(hits)), 1):.3f}"
                f" average_precision={precision_sum / max(len(truth), 1):.3f}"
                f" recall={found / max(len(truth), 1):.3f}",
                flush=True,
            )
            if order == "confidence":
                missed = Counter(truth[(r[0], r[1])] for r in rows[500:] if (r[0], r[1]) in truth)
                print(f"#   truth ranked below 500 by kind: {dict(missed)}", flush=True)
    finally:
        await conn.close()


async def signal_truth(sessions: Any, account_id: int, data: Generated, ids: list[int]) -> int:
    """Truth pairs (both live) that share at least one signal by the spec's rules."""
    async with sessions() as session:
        snapshot = await read_snapshot(session, account_id)
    keys: dict[int, set[str]] = {}
    for name, rows in (
        ("e", snapshot.email_keys),
        ("p", snapshot.phone_keys),
        ("a", snapshot.address_keys),
    ):
        for cid, key in rows:
            keys.setdefault(cid, set()).add(name + key)
    trigrams = snapshot.names.trigrams()
    count = 0
    for a, b, _ in data.truth:
        x, y = ids[a], ids[b]
        if data.people[a].deleted or data.people[b].deleted:
            continue
        tx, ty = set(trigrams.get(x, ())), set(trigrams.get(y, ()))
        overlap = len(tx & ty)
        name = bool(tx and ty) and float4(overlap, len(tx) + len(ty) - overlap) > 0.5
        if name or keys.get(x, set()) & keys.get(y, set()):
            count += 1
    return count


async def original(
    url: str, account_id: int, timeout_s: int
) -> tuple[dict[str, Any], set[tuple[int, int]]]:
    conn = await asyncpg.connect(asyncpg_url(url))
    times: dict[str, Any] = {}
    pairs: set[tuple[int, int]] = set()
    try:
        await conn.execute(f"SET statement_timeout = '{timeout_s}s'")
        for name, sql in ORIGINAL.items():
            started = time.perf_counter()
            try:
                rows = await conn.fetch(sql, account_id)
            except asyncpg.QueryCanceledError:
                times[name] = f"DNF (>{timeout_s}s)"
                continue
            times[name] = round(time.perf_counter() - started, 2)
            pairs |= {(r[0], r[1]) for r in rows}
            print(f"#   original {name}: {times[name]}s, {len(rows)} pairs", flush=True)
    finally:
        await conn.close()
    return times, pairs


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--full", type=int, nargs="*", default=[])
    parser.add_argument("--original", type=int, nargs="*", default=[])
    parser.add_argument("--original-timeout", type=int, default=900)
    parser.add_argument("--incremental", type=int, nargs="*", default=[])
    parser.add_argument("--edit", type=int, nargs="*", default=[])
    parser.add_argument("--generator", choices=("hard", "classic"), default="hard")
    args = parser.parse_args()
    hard = args.generator == "hard"
    await migrate(args.database_url)
    engine = create_engine(args.database_url)
    sessions = session_factory(engine)
    scanned: dict[int, int] = {}  # size → account already seeded and fully scanned
    try:
        for size in sorted(set(args.full) | set(args.original)):
            account_id, ids, data = await seed_account(
                args.database_url, sessions, size, seed=size, hard=hard
            )
            scanned[size] = account_id
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            result, wall = await our_scan(sessions, account_id)
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
            rss = cpu1.ru_maxrss / 1024
            found = await found_pairs(args.database_url, account_id)
            ours_recall, ours_deleted = recall(data.truth, data, ids, found)
            sharing = await signal_truth(sessions, account_id, data, ids)
            scores = Counter(f"{float(p):.1f}" for p in [])  # filled below
            async with sessions() as session:
                from sqlalchemy import text

                rows = await session.execute(
                    text(
                        "SELECT width_bucket(score, 0.5, 1.0001, 5), count(*)"
                        " FROM duplicate_candidates WHERE account_id = :a GROUP BY 1 ORDER BY 1"
                    ),
                    {"a": account_id},
                )
                scores = Counter({int(b): int(c) for b, c in rows})
            await ranking(args.database_url, account_id, live_truth(data, ids), size)
            _, rescan_wall = await our_scan(sessions, account_id)  # pairs all known now
            print(
                f"| ours full | {size:,} | {wall:.1f} s (rescan {rescan_wall:.1f} s) "
                f"| {cpu:.1f} s | {rss:.0f} MB "
                f"| {result.pairs_found:,} | {dict(result.pairs_by_signal)} "
                f"| {ours_recall} | deleted truth found: {ours_deleted} "
                f"| truth pairs sharing a signal: {sharing} | score buckets {dict(scores)} |",
                flush=True,
            )
            if size in args.original:
                times, pairs = await original(args.database_url, account_id, args.original_timeout)
                orig_recall, orig_deleted = recall(data.truth, data, ids, pairs)
                print(
                    f"| original | {size:,} | {times} | {len(pairs):,} pairs "
                    f"| {orig_recall} | deleted truth found: {orig_deleted} |",
                    flush=True,
                )
        for size in args.incremental:
            if size in scanned:
                account_id = scanned[size]
            else:
                account_id, _, _ = await seed_account(args.database_url, sessions, size, seed=size)
                await our_scan(sessions, account_id)
            more = generate(1000, seed=size + 1, hard=hard)
            conn = await asyncpg.connect(asyncpg_url(args.database_url))
            try:
                import_id = await conn.fetchval(
                    "INSERT INTO imports (account_id, source, generation)"
                    " VALUES ($1, 'vcard', 1) RETURNING id",
                    account_id,
                )
                new_ids = await write(conn, account_id, more.people, tag="import")
                # the import also re-uses existing people: 100 copies of known contacts
                await conn.copy_records_to_table(
                    "import_records",
                    columns=[
                        "account_id",
                        "import_id",
                        "source",
                        "source_entity_type",
                        "source_entity_id",
                        "local_entity_type",
                        "local_entity_id",
                    ],
                    records=[
                        (account_id, import_id, "vcard", "contact", f"u{cid}", "contact", cid)
                        for cid in new_ids
                    ],
                )
                await conn.execute("ANALYZE contacts; ANALYZE import_records")
            finally:
                await conn.close()
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            result, wall = await our_scan(sessions, account_id, import_id)
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
            print(
                f"| ours incremental | 1,000 into {size:,} | {wall:.2f} s | CPU {cpu:.2f} s "
                f"| considered {result.contacts_considered} | pairs {result.pairs_found} "
                f"| new {result.new_candidates} |",
                flush=True,
            )
        for size in args.edit:
            if size in scanned:
                account_id = scanned[size]
            else:
                account_id, _, _ = await seed_account(
                    args.database_url, sessions, size, seed=size, hard=hard
                )
                await our_scan(sessions, account_id)
            conn = await asyncpg.connect(asyncpg_url(args.database_url))
            try:
                edited = await conn.fetchval(
                    "SELECT id FROM contacts WHERE account_id = $1 AND deleted_at IS NULL"
                    " ORDER BY id OFFSET 4321 LIMIT 1",
                    account_id,
                )
                await conn.execute(
                    "UPDATE contacts SET display_name = display_name || 'e' WHERE id = $1", edited
                )
            finally:
                await conn.close()
            walls = []
            for _ in range(5):
                result, wall = await our_scan(sessions, account_id, contact_ids=(edited,))
                walls.append(wall)
            print(
                f"| ours incremental, one contact.updated | {size:,} "
                f"| {', '.join(f'{w * 1000:.0f} ms' for w in walls)} "
                f"| pairs {result.pairs_found} |",
                flush=True,
            )
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
