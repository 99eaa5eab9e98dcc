"""Database fixtures for the schema tests.

`database_url`, `engine` and `session_factory` come from the `kith` plugin (one migrated
database per session), as does `empty_database_url`, the unmigrated database of one test that
the migration tests need.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.accounts import create_account
from kith_common.db.models import Account

AccountFactory = Callable[[], Awaitable[Account]]


@pytest.fixture
def make_account(session_factory: async_sessionmaker[AsyncSession]) -> AccountFactory:
    """Creates committed accounts, each with a unique admin email."""

    async def make() -> Account:
        async with session_factory() as session, session.begin():
            account, _ = await create_account(
                session, name="Test", email=f"{uuid.uuid4().hex}@example.com"
            )
        return account

    return make
