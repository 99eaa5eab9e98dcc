"""A growing import refreshes the planner's statistics of the tables its lookups read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.session import create_engine, session_factory
from kith_common.testing import eventually
from kith_importer.statistics import PlannerStatistics

Sessions = async_sessionmaker[AsyncSession]


async def _analyses(sessions: Sessions) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT relname, analyze_count FROM pg_stat_user_tables"
                " WHERE relname IN ('import_records', 'import_staging')"
            )
        )
        return {name: int(count) for name, count in rows}


async def test_an_import_passing_the_threshold_analyzes_its_lookup_tables(
    run_import: Any, session_factory: Sessions
) -> None:
    before = await _analyses(session_factory)
    row = await run_import()
    assert row.status == "completed", row.summary
    assert row.summary["contacts"] >= 20  # the test importer's threshold

    async def analyzed() -> bool:
        after = await _analyses(session_factory)
        return all(after[name] > before[name] for name in before)

    await eventually(analyzed, timeout=10)


@pytest_asyncio.fixture(loop_scope="session")
async def quiet(own_database_url: str) -> AsyncIterator[Sessions]:
    """Sessions on a database of this test alone: no other import's pass lands in the counts."""
    engine = create_engine(own_database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def test_a_pass_runs_at_the_threshold_and_then_at_each_doubling(quiet: Sessions) -> None:
    statistics = PlannerStatistics(quiet, first_at=100)
    start = (await _analyses(quiet))["import_records"]

    async def passes() -> int:
        await statistics.aclose()
        return (await _analyses(quiet))["import_records"] - start

    statistics.grew_to(99)
    assert await passes() == 0
    statistics.grew_to(130)  # past 100: a pass; the next one waits for 260
    assert await passes() == 1
    statistics.grew_to(250)
    assert await passes() == 1
    statistics.grew_to(260)
    assert await passes() == 2


async def test_zero_turns_the_refresh_off(quiet: Sessions) -> None:
    statistics = PlannerStatistics(quiet, first_at=0)
    start = (await _analyses(quiet))["import_records"]
    statistics.grew_to(1_000_000)
    await statistics.aclose()
    assert (await _analyses(quiet))["import_records"] == start
