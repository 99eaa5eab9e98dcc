"""Database fixtures for the schema tests.

`database_url`, `engine` and `session_factory` come from the `kith` plugin (one migrated
database per session). The migration tests need databases of their own: `empty_database_url`
creates a uniquely named, unmigrated one and drops it afterwards.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.accounts import create_account
from kith_common.db.models import Account


def _admin_dsn(server_url: str) -> str:
    return make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest_asyncio.fixture(loop_scope="session")
async def empty_database_url(kith_postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh, empty `kith_dbtest_<hex>` database (asyncpg URL), dropped after the test."""
    name = f"kith_dbtest_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_admin_dsn(kith_postgres_server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(kith_postgres_server_url).set(drivername="postgresql+asyncpg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_admin_dsn(kith_postgres_server_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


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
