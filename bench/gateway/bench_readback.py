"""Reading a contact's records back: `GET /v1/notes?contact_id=` and `/v1/contacts/{id}/timeline`
in an account with 100,000 contacts and 1,000,000 timeline rows (issue #16).

Run by hand (never in CI):
    .venv/bin/python bench/gateway/bench_readback.py [--contacts 100000] [--rows 1000000]
        [--requests 400] [--without-indexes] [--keep]

It seeds a scratch database `kith_bench_readback` by SQL `generate_series` (never through the
API): the account's contacts, then the timeline rows spread over them (40 % notes, 20 % calls,
10 % activities with one attendee each, 5 % each of conversations with two messages, life
events, gifts, debts, tasks and reminders), moments spread over five years, plus one heavy
contact holding 1 % of the notes. `--keep` leaves the database for the next run.

The gateway runs as `kith serve gateway` runs it (`build_app`: uvicorn, read pool, outbox
relay) in a child process; one sequential keep-alive client (aiohttp) measures each request
kind after a warm-up, each request naming a random contact. `--without-indexes` drops the
0004 indexes first, to show what they are for (rerun with `--keep` off to get them back).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import time

import aiohttp
import asyncpg
from bench_duplicates import Sample, cpu_seconds, serve  # the same child, summary, CPU

from kith_common.db.migrate import migrate
from kith_common.ports import free_port
from kith_common.settings import Settings

SERVER = "postgresql://postgres@127.0.0.1:5432"
DB = "kith_bench_readback"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
PREFIX = "benchrb"
# Share of the timeline rows per table (and the SQL that fills one row from g, contact c, t).
TABLES: list[tuple[str, float, str, str]] = [
    ("notes", 0.40, "body, created_at, updated_at", "'note ' || g, t, t"),
    ("calls", 0.20, "occurred_at, direction, notes", "t, 'inbound', 'call ' || g"),
    ("conversations", 0.05, "platform, created_at, updated_at", "'sms', t, t"),
    ("gifts", 0.05, "name, direction, created_at, updated_at", "'gift ' || g, 'given', t, t"),
    (
        "debts",
        0.05,
        "title, amount, direction, created_at, updated_at",
        "'debt ' || g, 10, 'owed_to_me', t, t",
    ),
    ("tasks", 0.05, "title, created_at, updated_at", "'task ' || g, t, t"),
    (
        "reminders",
        0.05,
        "type, next_reminder_on, created_at, updated_at",
        "'one_time', t::date, t, t",
    ),
    (
        "life_events",
        0.05,
        "life_event_type_id, occurred_on",
        "(SELECT min(id) FROM life_event_types), t::date",
    ),
]
ACTIVITY_SHARE = 0.10
HEAVY_SHARE = 0.01  # of the notes, on one contact


async def fresh_database() -> None:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await conn.execute(f'CREATE DATABASE "{DB}"')
    await conn.close()
    await migrate(URL)


async def seeded() -> bool:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DB)
    await conn.close()
    return bool(exists)


async def seed(contacts: int, rows: int) -> None:
    from kith_common.service import Runtime
    from kith_gateway.testing import make_account

    runtime = Runtime(Settings(database_url=URL), "bench")
    account = await make_account(runtime.sessions, name="Bench")
    await runtime.engine.dispose()
    conn = await asyncpg.connect(f"{SERVER}/{DB}")
    started = time.perf_counter()
    await conn.execute(
        """INSERT INTO contacts (account_id, first_name, display_name)
           SELECT $1, 'C' || g, 'C' || g FROM generate_series(1, $2) AS g""",
        account.id,
        contacts,
    )
    first = await conn.fetchval("SELECT min(id) FROM contacts WHERE account_id = $1", account.id)
    # A moment in the last five years and a contact, both from g (deterministic, spread).
    moment = "timestamptz '2026-12-01' - (g::bigint * 7919 % 157680000) * interval '1 second'"
    for table, share, columns, values in TABLES:
        await conn.execute(
            f"""INSERT INTO {table} (account_id, contact_id, {columns})
                SELECT $1, $2 + (g * 31 % $3), {values}
                FROM (SELECT g, {moment} AS t FROM generate_series(1, $4) AS g) AS s""",
            account.id,
            first,
            contacts,
            int(rows * share),
        )
    heavy = first + contacts // 2
    await conn.execute(
        f"""INSERT INTO notes (account_id, contact_id, body, created_at, updated_at)
            SELECT $1, $2, 'heavy ' || g, t, t
            FROM (SELECT g, {moment} AS t FROM generate_series(1, $3) AS g) AS s""",
        account.id,
        heavy,
        int(rows * TABLES[0][1] * HEAVY_SHARE),
    )
    await conn.execute(
        f"""WITH made AS (
                INSERT INTO activities (account_id, title, occurred_at)
                SELECT $1, 'activity ' || g, {moment} FROM generate_series(1, $2) AS g
                RETURNING id)
            INSERT INTO activity_contacts (account_id, activity_id, contact_id)
            SELECT $1, id, $3 + (id * 31 % $4) FROM made""",
        account.id,
        int(rows * ACTIVITY_SHARE),
        first,
        contacts,
    )
    await conn.execute(
        """INSERT INTO messages (account_id, conversation_id, body, direction, sent_at)
           SELECT account_id, id, 'hello', d, created_at
           FROM conversations, unnest(ARRAY['sent', 'received']) AS d
           WHERE account_id = $1""",
        account.id,
    )
    await conn.execute("VACUUM ANALYZE")
    await conn.close()
    print(
        f"seeded {contacts} contacts and {rows} timeline rows in account {account.id}"
        f" in {time.perf_counter() - started:.0f} s (heavy contact {heavy})"
    )


async def drop_indexes() -> None:
    conn = await asyncpg.connect(f"{SERVER}/{DB}")
    names = await conn.fetch(
        "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix\\_%\\_recent'"
    )
    for row in names:
        await conn.execute(f'DROP INDEX "{row["indexname"]}"')
    await conn.execute("ANALYZE")
    await conn.close()
    print(f"dropped the {len(names)} read-back indexes of migration 0004")


async def bench_account() -> tuple[str, int, int, int]:
    """A fresh viewer token, the contact id range and the heavy contact."""
    from sqlalchemy import select

    from kith_common.accounts import issue_api_token
    from kith_common.db.models import User
    from kith_common.service import Runtime

    runtime = Runtime(Settings(database_url=URL), "bench")
    async with runtime.sessions() as session, session.begin():
        user = await session.scalar(select(User).where(User.role == "viewer").limit(1))
        assert user is not None
        token = await issue_api_token(session, user, "bench")
    await runtime.engine.dispose()
    conn = await asyncpg.connect(f"{SERVER}/{DB}")
    low, high = await conn.fetchrow("SELECT min(id), max(id) FROM contacts")
    heavy = await conn.fetchval(
        "SELECT contact_id FROM notes GROUP BY contact_id ORDER BY count(*) DESC LIMIT 1"
    )
    await conn.close()
    return token, int(low), int(high), int(heavy)


async def measure(
    port: int, pid: int, token: str, low: int, high: int, heavy: int, requests: int
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(16)
    async with aiohttp.ClientSession(
        f"http://127.0.0.1:{port}",
        connector=aiohttp.TCPConnector(limit=1),
        timeout=aiohttp.ClientTimeout(total=60),
    ) as http:
        for _ in range(300):
            try:
                async with http.get("/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)

        async def get(path: str) -> dict[str, object]:
            async with http.get(path, headers=headers) as response:
                response.raise_for_status()
                body: dict[str, object] = await response.json()
                return body

        async def second_page(path: str) -> str:
            page = await get(path)
            cursor = page["meta"]["next_cursor"]  # type: ignore[index]
            sep = "&" if "?" in path else "?"
            return f"{path}{sep}cursor={cursor}" if cursor else path

        def contact() -> int:
            return rng.randint(low, high)

        kinds = {
            "/v1/me (the floor: auth, one query)": lambda: "/v1/me",
            "/v1/notes?contact_id= (random contact)": lambda: f"/v1/notes?contact_id={contact()}",
            "/v1/contacts/{id}/timeline (random contact)": lambda: (
                f"/v1/contacts/{contact()}/timeline"
            ),
            "/v1/notes?contact_id= (heavy contact)": lambda: f"/v1/notes?contact_id={heavy}",
            "/v1/contacts/{id}/timeline (heavy contact)": lambda: f"/v1/contacts/{heavy}/timeline",
            "/v1/notes (whole account, first page)": lambda: "/v1/notes",
            "/v1/contacts/{id} (with counts)": lambda: f"/v1/contacts/{contact()}",
        }
        for label, path in kinds.items():
            for _ in range(requests // 10):
                await get(path())
            sample = Sample()
            cpu = cpu_seconds([pid])
            for _ in range(requests):
                target = path()
                started = time.perf_counter()
                await get(target)
                sample.latencies.append(time.perf_counter() - started)
            per_request = (cpu_seconds([pid]) - cpu) / requests * 1000
            print(f"  single client, {label}: {sample.summary()}, gateway CPU {per_request:.2f} ms")
        for label, path in (
            ("timeline page 2 (heavy contact)", f"/v1/contacts/{heavy}/timeline"),
            ("notes page 2 (whole account)", "/v1/notes"),
        ):
            target = await second_page(path)
            sample = Sample()
            cpu = cpu_seconds([pid])
            for _ in range(requests):
                started = time.perf_counter()
                await get(target)
                sample.latencies.append(time.perf_counter() - started)
            per_request = (cpu_seconds([pid]) - cpu) / requests * 1000
            print(f"  single client, {label}: {sample.summary()}, gateway CPU {per_request:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--without-indexes", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not (args.keep and asyncio.run(seeded())):
        asyncio.run(fresh_database())
        asyncio.run(seed(args.contacts, args.rows))
    if args.without_indexes:
        asyncio.run(drop_indexes())
    token, low, high, heavy = asyncio.run(bench_account())
    port = free_port()
    child = multiprocessing.get_context("spawn").Process(
        target=serve, args=(port, URL, PREFIX, "warning")
    )
    child.start()
    try:
        assert child.pid is not None
        asyncio.run(measure(port, child.pid, token, low, high, heavy, args.requests))
    finally:
        child.terminate()
        child.join(30)
    if not args.keep:
        asyncio.run(_drop())


async def _drop() -> None:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await conn.close()


if __name__ == "__main__":
    main()
