"""GET /v1/duplicates with 100,000 candidates in one account: per-request cost, saturation, users.

Run by hand (never in CI):
    .venv/bin/python bench/gateway/bench_duplicates.py [--candidates 100000] [--replicas 1]
        [--mode single,saturation,users] [--clients 50] [--users 50] [--think 1.0]
        [--seconds 30] [--keep]

It seeds a scratch database `kith_bench_gateway` (one account, contacts and candidate pairs by
SQL `generate_series`, as a full scan would leave them; `--keep` leaves it for the next run,
which then only mints a fresh token), runs the real gateway (`build_app`: uvicorn, outbox
relay, NATS, one process per replica, as `kith serve gateway` runs it) in child processes and
drives it over HTTP with keep-alive connections. Three measures, because they answer three
questions:

- `single`: one client, sequential: what one request costs (`/healthz`, `/v1/me`, the first
  page, deep pages), without queueing.
- `saturation`: N closed-loop clients with zero think time. They keep the server 100 % busy,
  so this measures throughput; latency is then N / throughput by Little's law, queueing, not
  the cost of a request.
- `users`: N users each paging through the list (following `next_cursor`, from a random deep
  starting page) with exponentially distributed pauses of mean `--think` seconds, open-loop:
  each request is due at its scheduled time whether or not the server kept up, and latency is
  measured from that time (no coordinated omission). This is "50 concurrent users".

With `--replicas 2` the clients are split evenly over two gateway processes, as a
connection-balancing load balancer in front of horizontally scaled replicas would do.
The load generator (aiohttp) runs on the same 2 cores and takes a share of them.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp
import asyncpg

from kith_common.db.migrate import migrate
from kith_common.ports import free_port
from kith_common.settings import Settings

SERVER = "postgresql://postgres@127.0.0.1:5432"
DB = "kith_bench_gateway"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
NATS_URL = "nats://127.0.0.1:4222"
PREFIX = "benchgw"
PAIRS_PER_CONTACT = 5


# --- database --------------------------------------------------------------------------------


async def seeded_candidates() -> int:
    """Candidates already in a kept database (0 when there is none)."""
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DB)
    await conn.close()
    if not exists:
        return 0
    conn = await asyncpg.connect(f"{SERVER}/{DB}")
    try:
        return int(await conn.fetchval("SELECT count(*) FROM duplicate_candidates"))
    except asyncpg.PostgresError:
        return 0
    finally:
        await conn.close()


async def fresh_database() -> None:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await conn.execute(f'CREATE DATABASE "{DB}"')
    await conn.close()
    await migrate(URL)


async def seed(candidates: int) -> None:
    from kith_common.service import Runtime
    from kith_gateway.testing import make_account

    runtime = Runtime(Settings(database_url=URL), "bench")
    account = await make_account(runtime.sessions, name="Bench")
    await runtime.engine.dispose()
    contacts = candidates // PAIRS_PER_CONTACT + PAIRS_PER_CONTACT
    conn = await asyncpg.connect(f"{SERVER}/{DB}")
    await conn.execute(
        """
        INSERT INTO contacts (account_id, first_name, last_name, display_name)
        SELECT $1, 'First' || g, 'Last' || (g % 997), 'First' || g || ' Last' || (g % 997)
        FROM generate_series(1, $2) AS g
        """,
        account.id,
        contacts,
    )
    ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM contacts WHERE account_id = $1 ORDER BY id", account.id
        )
    ]
    await conn.execute(
        """
        INSERT INTO duplicate_candidates
            (account_id, contact_id, duplicate_contact_id, score, reasons, status)
        SELECT $1, a.id, b.id, round((0.5 + random() * 0.5)::numeric, 2),
               ARRAY['name_match', 'email_match'],
               CASE WHEN random() < 0.9 THEN 'pending' ELSE 'dismissed' END
        FROM unnest($2::bigint[]) WITH ORDINALITY AS a(id, n)
        JOIN generate_series(1, $3) AS k ON true
        JOIN unnest($2::bigint[]) WITH ORDINALITY AS b(id, n) ON b.n = a.n + k
        LIMIT $4
        """,
        account.id,
        ids,
        PAIRS_PER_CONTACT,
        candidates,
    )
    await conn.execute("ANALYZE")
    await conn.close()
    print(f"seeded {contacts} contacts and {candidates} candidates in account {account.id}")


async def viewer_token() -> str:
    """A fresh token of the bench account's viewer (tokens are stored hashed, shown once)."""
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
    return token


async def drop_database() -> None:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await conn.close()


# --- the gateway -----------------------------------------------------------------------------


def serve(port: int, database_url: str = URL, prefix: str = PREFIX, level: str = "info") -> None:
    """Child process: the gateway exactly as `kith serve gateway` runs it."""
    from kith_common.logging import configure_logging
    from kith_gateway.app import build_app

    configure_logging(service="gateway", log_format="json", level=level)
    settings = Settings(
        database_url=database_url,
        nats_url=NATS_URL,
        stream_prefix=prefix,
        gateway_port=port,
        metrics_port=free_port(),
        log_level=level,
    )
    asyncio.run(build_app(settings).run_until_signalled())


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def summary(self, elapsed: float | None = None) -> str:
        ordered = sorted(self.latencies)
        if not ordered:
            return "no requests"

        def p(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

        rate = f", {len(ordered) / elapsed:.0f} req/s" if elapsed else ""
        return (
            f"{len(ordered)} requests{rate}, p50 {p(0.5):.1f} ms, p90 {p(0.9):.1f} ms, "
            f"p99 {p(0.99):.1f} ms, max {ordered[-1] * 1000:.1f} ms, errors {self.errors}"
        )


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time the gateway processes used so far (Linux /proc)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


class Api:
    """Keep-alive HTTP sessions, one per replica; callers pick one by index."""

    def __init__(
        self, ports: Sequence[int], token: str, connections: int, pids: Sequence[int] = ()
    ) -> None:
        self.ports = list(ports)
        self.pids = list(pids)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.cpu_mark = 0.0
        self.sessions = [
            aiohttp.ClientSession(
                f"http://127.0.0.1:{port}",
                connector=aiohttp.TCPConnector(limit=connections),
                timeout=aiohttp.ClientTimeout(total=60),
            )
            for port in ports
        ]

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()

    async def wait_ready(self) -> None:
        for session in self.sessions:
            for _ in range(300):
                try:
                    async with session.get("/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

    async def page(self, replica: int, cursor: str | None, limit: int = 50) -> str | None:
        params = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        session = self.sessions[replica % len(self.sessions)]
        async with session.get("/v1/duplicates", params=params, headers=self.headers) as r:
            r.raise_for_status()
            body = await r.json()
        next_cursor: str | None = body["meta"]["next_cursor"]
        return next_cursor

    async def get(self, path: str) -> None:
        async with self.sessions[0].get(path, headers=self.headers) as response:
            response.raise_for_status()
            await response.read()


async def collect_cursors(api: Api) -> list[str | None]:
    """Cursors spread over the whole list (every 200 rows): starting points for deep pages."""
    cursors: list[str | None] = [None]
    cursor: str | None = None
    while True:
        cursor = await api.page(0, cursor, limit=200)
        if cursor is None:
            return cursors
        cursors.append(cursor)


async def timed(sample: Sample, call: asyncio.Future[object] | object) -> None:
    started = time.perf_counter()
    await call  # type: ignore[misc]
    sample.latencies.append(time.perf_counter() - started)


async def single(api: Api, cursors: list[str | None], requests: int) -> None:
    """One sequential client: the cost of each kind of request, no queueing."""
    for label, make in (
        ("/healthz", lambda i: api.get("/healthz")),
        ("/v1/me", lambda i: api.get("/v1/me")),
        ("/v1/duplicates first page", lambda i: api.page(0, None)),
        ("/v1/duplicates deep pages", lambda i: api.page(0, cursors[i % len(cursors)])),
    ):
        sample = Sample()
        for i in range(requests // 10):  # warm-up
            await make(i)
        cpu = cpu_seconds(api.pids)
        for i in range(requests):
            await timed(sample, make(i))
        per_request = (cpu_seconds(api.pids) - cpu) / requests * 1000
        print(f"  single client, {label}: {sample.summary()}, gateway CPU {per_request:.2f} ms/req")


async def saturation(api: Api, cursors: list[str | None], clients: int, seconds: float) -> None:
    """N closed-loop clients, zero think time: throughput (and queueing latency)."""

    async def client(n: int, deadline: float, sample: Sample) -> None:
        cursor = random.choice(cursors)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                cursor = await api.page(n, cursor)
            except aiohttp.ClientError:
                sample.errors += 1
                cursor = None
                continue
            sample.latencies.append(time.perf_counter() - started)

    warm = Sample()
    await asyncio.gather(*(client(n, time.perf_counter() + 3, warm) for n in range(clients)))
    sample = Sample()
    started = time.perf_counter()
    api.cpu_mark = cpu_seconds(api.pids)
    await asyncio.gather(*(client(n, started + seconds, sample) for n in range(clients)))
    elapsed = time.perf_counter() - started
    print(f"  saturation, {clients} closed-loop clients: {sample.summary(elapsed)}")
    print(f"  (gateway CPU over the run: {cpu_share(api, elapsed)})")


async def users(
    api: Api, cursors: list[str | None], count: int, think: float, seconds: float
) -> None:
    """N users paging with random pauses (open loop); latency from each request's due time."""

    async def user(n: int, deadline: float, sample: Sample) -> None:
        cursor = random.choice(cursors)
        due = time.perf_counter() + random.uniform(0, think)
        while due < deadline:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                cursor = await api.page(n, cursor)
            except aiohttp.ClientError:
                sample.errors += 1
                cursor = None
            sample.latencies.append(time.perf_counter() - due)
            due += random.expovariate(1 / think)

    sample = Sample()
    started = time.perf_counter()
    api.cpu_mark = cpu_seconds(api.pids)
    await asyncio.gather(*(user(n, started + seconds, sample) for n in range(count)))
    elapsed = time.perf_counter() - started
    print(
        f"  users, {count} users, think {think:.2f} s (offered {count / think:.0f} req/s): "
        f"{sample.summary(elapsed)}"
    )
    print(f"  (gateway CPU over the run: {cpu_share(api, elapsed)})")


def cpu_share(api: Api, elapsed: float) -> str:
    """How busy the gateway processes were: CPU seconds per wall second, summed."""
    used = cpu_seconds(api.pids) - api.cpu_mark
    return f"{used / elapsed:.2f} cores"


async def drive(ports: list[int], pids: list[int], token: str, args: argparse.Namespace) -> None:
    api = Api(ports, token, max(args.clients, args.users), pids)
    try:
        await api.wait_ready()
        cursors = await collect_cursors(api)
        print(f"  {len(cursors)} starting cursors over the list, load {os.getloadavg()[0]:.2f}")
        modes = args.mode.split(",")
        if "single" in modes:
            await single(api, cursors, args.requests)
        if "saturation" in modes:
            await saturation(api, cursors, args.clients, args.seconds)
        if "users" in modes:
            await users(api, cursors, args.users, args.think, args.seconds)
    finally:
        await api.close()
    print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--mode", default="single,saturation,users")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--requests", type=int, default=500, help="per kind, single mode")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    args = parser.parse_args()
    if asyncio.run(seeded_candidates()) != args.candidates:
        asyncio.run(fresh_database())
        asyncio.run(seed(args.candidates))
    token = asyncio.run(viewer_token())
    ports = [free_port() for _ in range(args.replicas)]
    spawn = multiprocessing.get_context("spawn")
    children = [spawn.Process(target=serve, args=(port,)) for port in ports]
    for child in children:
        child.start()
    print(f"{args.replicas} gateway replica(s), load {os.getloadavg()[0]:.2f}")
    try:
        asyncio.run(drive(ports, [c.pid for c in children if c.pid], token, args))
    finally:
        for child in children:
            if child.pid:
                os.kill(child.pid, 15)
        for child in children:
            child.join(30)
        asyncio.run(cleanup(args.keep))


async def cleanup(keep: bool) -> None:
    from kith_common.testing.bus import drop_streams

    await drop_streams(NATS_URL, PREFIX)
    if not keep:
        await drop_database()


if __name__ == "__main__":
    main()
