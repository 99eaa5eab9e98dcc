"""Photo sync throughput (photos/s) with the Monica rate limit off, against real PostgreSQL,
the fake Monica over real HTTP and the local-filesystem storage backend.

Run by hand (never in CI):  .venv/bin/python bench/photos/bench_photos.py [--photos 3000]
[--bursts 34]. It creates a scratch database `kith_bench_photos`, migrates it, and drops it
at the end.
Each photo is a real PNG of ~`--size`² pixels inlined as a base64 dataUrl, spread over
`--contacts` contacts; the run covers paging (limit 100), decoding, hashing, file writes,
row + mapping inserts, avatars and the per-page summary/checkpoint transaction. With
`--bursts N` the photos are uploaded in bursts of 1..N sharing one `created_at` and the fake
tie-drops `/api/photos` (API §11.1): the run then reports the photos the limit-100 listing
misses, the torn groups, and what the re-listing recovered with how many requests.
Results go to docs/performance.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import tempfile
import time

import asyncpg

from kith_common.db.migrate import migrate
from kith_common.db.session import create_engine, session_factory
from kith_common.storage import LocalStorage
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, World
from kith_common.testing.fake_monica.media import add_photo, data_url
from kith_photos.sync import run_media_phase
from kith_photos.testing import FAKE_TOKEN, direct_env, import_row, seed_import, test_limits

SERVER = "postgresql://postgres@127.0.0.1:5432"
DB = "kith_bench_photos"


async def fresh_database() -> str:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await conn.execute(f'CREATE DATABASE "{DB}"')
    await conn.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
    await migrate(url)
    return url


async def drop_database() -> None:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await conn.close()


def world_of(photos: int, contacts: int, size: int, bursts: int = 0) -> World:
    from kith_common.testing.fake_monica.generator import png_bytes

    rng = random.Random(7)
    world = World(seed=7)
    world.add_user(FAKE_TOKEN, account_id=1)
    ids = [world.add_contact(first_name=f"C{i}").id for i in range(contacts)]
    burst, left = 0, 0
    for i in range(photos):
        if left == 0:
            burst, left = burst + 1, rng.randint(1, bursts) if bursts else 1
        left -= 1
        stamp = f"2023-07-01T10:00:00.{burst:06d}Z"
        rgb = (i % 256, (i // 256) % 256, rng.randrange(256))
        add_photo(
            world,
            contact_id=ids[i % contacts],
            data=data_url(png_bytes(rgb, size)),
            created_at=stamp if bursts else "2023-07-01T10:00:00Z",
        )
    return world


async def bench(photos: int, contacts: int, size: int, bursts: int) -> None:
    url = await fresh_database()
    engine = create_engine(url)
    sessions = session_factory(engine)
    root = tempfile.mkdtemp(prefix="kith-bench-photos-")
    try:
        world = world_of(photos, contacts, size, bursts)
        fake = FakeMonica(world, rate_limit=0, tie_drop={"photos"} if bursts else set())
        stamps = {i["id"]: i["created_at"] for i in world.items["photos"]}
        unlisted = fake.expected_unlisted_items("photos") if bursts else set()
        with FakeMonicaServer(fake) as monica:
            seeded = await seed_import(
                sessions,
                api_url=monica.url,
                api_key=FAKE_TOKEN,
                monica_contacts=list(world.contacts),
            )
            env = direct_env(
                sessions,
                LocalStorage(root),
                test_limits(rate_limit_per_minute=0),
                account_id=seeded.account_id,
                generation=seeded.generation,
            )
            started = time.perf_counter()
            outcome = await run_media_phase(
                env, import_id=seeded.import_id, generation=seeded.generation, last_attempt=True
            )
            elapsed = time.perf_counter() - started
        summary = (await import_row(sessions, seeded.import_id)).sync_summary
        page_bytes = sum(len(i["dataUrl"]) for i in world.items["photos"][:100])
        print(
            f"outcome={outcome} photos={photos} synced={summary['synced']} "
            f"requests={summary['requests']} seconds={elapsed:.2f} "
            f"photos_per_s={summary['synced'] / elapsed:.0f} "
            f"dataUrl_bytes_per_page≈{page_bytes}"
        )
        if bursts:
            print(
                f"unlisted_by_listing={len(unlisted)} "
                f"torn_groups={len({stamps[i] for i in unlisted})} "
                f"recovered={summary['recovered']} missing={summary['missing']} "
                f"requests_by_purpose={summary['requests_by_purpose']}"
            )
    finally:
        await engine.dispose()
        shutil.rmtree(root, ignore_errors=True)
        await drop_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=3000)
    parser.add_argument("--contacts", type=int, default=300)
    parser.add_argument("--size", type=int, default=32, help="PNG side in pixels")
    parser.add_argument(
        "--bursts", type=int, default=0, help="tie-dropped bursts of up to N photos (0: none)"
    )
    args = parser.parse_args()
    os.environ.setdefault("KITH_LOG_LEVEL", "warning")
    asyncio.run(bench(args.photos, args.contacts, args.size, args.bursts))


if __name__ == "__main__":
    main()
