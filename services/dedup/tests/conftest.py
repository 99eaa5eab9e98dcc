"""Fixtures for the dedup service tests: a session, a fresh account, a direct scan runner."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence
from kith_common.bus import outbox
from kith_common.db.models import DuplicateCandidate
from kith_common.dedup.testing import Seeder, new_account
from kith_common.events.envelope import Payload
from kith_common.events.registry import build_envelope
from kith_common.events.subjects import DEDUP_SCAN_COMPLETED
from kith_dedup.scans import ScanRequest, run_scan

ScanRunner = Callable[..., Awaitable[Any]]


@pytest_asyncio.fixture(loop_scope="session")
async def db(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session


@pytest_asyncio.fixture(loop_scope="session")
async def seed(db: AsyncSession) -> Seeder:
    """A fresh committed account; write with `async with seed.session.begin():`."""
    async with db.begin():
        seeder = await new_account(db)
    return seeder


@pytest.fixture
def scan(session_factory: async_sessionmaker[AsyncSession]) -> ScanRunner:
    """Run a detection pass directly (no bus): full, or incremental with `import_id`."""

    async def run(
        account_id: int,
        *,
        import_id: int | None = None,
        generation: int | None = None,
    ) -> Any:
        @contextlib.asynccontextmanager
        async def unit_of_work() -> AsyncIterator[AsyncSession]:
            async with session_factory() as session, session.begin():
                await fence.hold(session, account_id, generation)
                yield session

        async def publish(session: AsyncSession, result: Payload) -> None:
            envelope = build_envelope(
                DEDUP_SCAN_COMPLETED, result, account_id=account_id, generation=generation
            )
            await outbox.add(session, DEDUP_SCAN_COMPLETED, envelope)

        async def heartbeat() -> None:
            return None

        request = ScanRequest(
            uuid.uuid4(), account_id, "api" if import_id is None else "import", import_id
        )
        return await run_scan(
            request,
            sessions=session_factory,
            unit_of_work=unit_of_work,
            heartbeat=heartbeat,
            publish=publish,
        )

    return run


@pytest.fixture
def candidates(
    session_factory: async_sessionmaker[AsyncSession],
) -> Callable[..., Awaitable[list[Any]]]:
    """The account's candidate rows, ordered by pair."""

    async def read(account_id: int, status: str | None = None) -> list[Any]:
        async with session_factory() as session:
            query = select(DuplicateCandidate).where(DuplicateCandidate.account_id == account_id)
            if status is not None:
                query = query.where(DuplicateCandidate.status == status)
            rows = await session.scalars(
                query.order_by(
                    DuplicateCandidate.contact_id, DuplicateCandidate.duplicate_contact_id
                )
            )
            return list(rows)

    return read
