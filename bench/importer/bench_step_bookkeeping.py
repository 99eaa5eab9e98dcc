"""Benchmark: the CPU of a crawl step's bookkeeping, through the session and through raw asyncpg.

Every ≤ 10-contact crawl step opens a transaction, holds the fence and refreshes the lease
(`imports.fenced_beat`), saves summary and checkpoint (`imports.save_progress`) and commits.
This runs those same two statements N times each way on one scratch database and prints the
importer-side CPU per step: how much of a step's cost is SQLAlchemy's rather than the
driver's (docs/performance.md, "The CPU bound…"). Not collected by pytest.

    .venv/bin/python bench/importer/bench_step_bookkeeping.py --steps 500 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import uvloop
from bench_import import _ensure_database  # the import bench's scratch database
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kith_common import imports
from kith_common.accounts import create_account
from kith_common.db.migrate import migrate
from kith_common.db.session import create_engine, session_factory
from kith_importer.testing import KEY

SUMMARY = {"contacts": 120, "requests": 12, "errors": [], "coverage_backfill": {"requests": 3}}
CHECKPOINT = {"phase": "listing", "started": True, "page": 3, "offset": 20, "total": 956}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = os.environ.get(
        "KITH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/kith_bench_importer"
    )
    await _ensure_database(url)
    await migrate(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        step = await _processing_import(sessions)
        through: dict[str, list[float]] = {"session": [], "raw_asyncpg": []}
        # Warm-up: statements compiled, prepared and cached on the pool's connections.
        await _session_steps(sessions, step, 20)
        await _raw_steps(engine, step, 20)
        for _ in range(args.rounds):
            through["session"].append(await _session_steps(sessions, step, args.steps))
            through["raw_asyncpg"].append(await _raw_steps(engine, step, args.steps))
    finally:
        await engine.dispose()
    return {
        "steps": args.steps,
        "cpu_us_per_step": {k: [round(v) for v in runs] for k, runs in through.items()},
    }


async def _processing_import(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """A crawl in `processing` for the steps to keep alive (no runtime consumes it)."""
    async with sessions() as session, session.begin():
        account, user = await create_account(
            session, name="Bench", email=f"step{time.time_ns()}@example.org"
        )
        row = await imports.create_import(
            session,
            account_id=account.id,
            user_id=user.id,
            encryption_key=KEY,
            api_url="http://monica.invalid",
            api_key="bench",
            options={},
        )
        await imports.move(session, row.id, "status", "processing")
    return {
        "import_id": row.id,
        "owner": "bench",
        "fence_account": account.id,
        "fence_generation": account.generation,
    }


async def _session_steps(
    sessions: async_sessionmaker[AsyncSession], step: dict[str, Any], steps: int
) -> float:
    """CPU µs per step, as `Crawl.step` does it."""
    started = time.process_time()
    for _ in range(steps):
        async with sessions() as session, session.begin():
            await imports.fenced_beat(
                session,
                step["import_id"],
                step["owner"],
                account_id=step["fence_account"],
                generation=step["fence_generation"],
            )
            await imports.save_progress(
                session, step["import_id"], summary=SUMMARY, checkpoint=CHECKPOINT
            )
    return 1e6 * (time.process_time() - started) / steps


async def _raw_steps(engine: AsyncEngine, step: dict[str, Any], steps: int) -> float:
    """CPU µs per step for the same statements sent by asyncpg itself (pool checkout kept)."""
    dialect = PGDialect_asyncpg()
    beat = imports._FENCED_BEAT.compile(dialect=dialect)
    save = imports._SAVE.compile(dialect=dialect)
    values = {
        **step,
        "new_summary": json.dumps(SUMMARY),
        "new_checkpoint": json.dumps(CHECKPOINT),
    }

    def args_of(compiled: Any) -> list[Any]:
        return [
            values[name] if name in values else compiled.binds[name].value
            for name in compiled.positiontup
        ]

    beat_sql, beat_args = str(beat), args_of(beat)
    save_sql, save_args = str(save), args_of(save)
    started = time.process_time()
    for _ in range(steps):
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            async with raw.transaction():
                await raw.fetchrow(beat_sql, *beat_args)
                await raw.execute(save_sql, *save_args)
    return 1e6 * (time.process_time() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two ways")
    # uvloop, as `kith serve` runs every service.
    print(json.dumps(uvloop.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
