"""Fixtures: the real gateway app (real PostgreSQL and NATS) driven through ASGI, accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.testing.bus import drop_streams
from kith_gateway.app import create_api
from kith_gateway.testing import TestAccount, make_account, make_operator


@pytest.fixture
def settings(database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        nats_url=nats_url,
        stream_prefix=stream_prefix,
        storage_url=f"file://{tmp_path}/storage",
        metrics_port=0,
        gateway_port=0,
        log_format="console",
        shutdown_grace_seconds=2,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def runtime(settings: Settings, nats_url: str, stream_prefix: str) -> AsyncIterator[Runtime]:
    runtime = Runtime(settings, "gateway")
    yield runtime
    await runtime.stop()
    await drop_streams(nats_url, stream_prefix)


@pytest.fixture
def api(runtime: Runtime) -> FastAPI:
    return create_api(runtime)


@pytest_asyncio.fixture(loop_scope="session")
async def client(api: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


@pytest.fixture
def sessions(runtime: Runtime) -> async_sessionmaker[AsyncSession]:
    return runtime.sessions


@pytest_asyncio.fixture(loop_scope="session")
async def acct(sessions: async_sessionmaker[AsyncSession]) -> TestAccount:
    return await make_account(sessions)


@pytest_asyncio.fixture(loop_scope="session")
async def other(sessions: async_sessionmaker[AsyncSession]) -> TestAccount:
    return await make_account(sessions, name="Other")


@pytest_asyncio.fixture(loop_scope="session")
async def operator_token(sessions: async_sessionmaker[AsyncSession]) -> str:
    return await make_operator(sessions)
