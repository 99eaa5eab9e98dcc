"""The `kith` pytest plugin: real NATS and PostgreSQL for every package's tests.

CONVENTIONS §9: `nats_url` and `database_url` point at the machine's servers when they answer
and at embedded ones otherwise (`kith_common.devstack`); `KITH_TEST_NATS_URL` and
`KITH_TEST_DATABASE_URL` name others explicitly. The schema is migrated once per session into a
fresh database that is dropped at the end, so tests isolate themselves by data (a fresh account
per test, a unique `stream_prefix` for bus tests), never by a server of their own. Effects are
awaited with `eventually`, never with a fixed sleep.

Registered as the `kith` entry point of the `pytest11` group (libs/kith_common/pyproject.toml).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import secrets
import signal
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TypeVar, overload

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kith_common import devstack

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_TEST_DATABASE_URL",
    "DEFAULT_TEST_NATS_URL",
    "NATS_URL_ENV",
    "database_url",
    "empty_database_url",
    "engine",
    "eventually",
    "kith_postgres_server_url",
    "kith_state_dir",
    "nats_url",
    "own_database_url",
    "session_factory",
    "stream_prefix",
]

NATS_URL_ENV = "KITH_TEST_NATS_URL"
DATABASE_URL_ENV = "KITH_TEST_DATABASE_URL"
DEFAULT_TEST_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432"
_EXPLICIT_PROBE_SECONDS = 5.0

_T = TypeVar("_T")
_SIGTERM_INSTALLED = pytest.StashKey[bool]()


# --- eventually --------------------------------------------------------------------------------


@overload
async def eventually(
    predicate: Callable[[], Awaitable[_T]],
    timeout: float = 10.0,  # noqa: ASYNC109
    interval: float = 0.05,
    *,
    what: str | None = None,
) -> _T: ...


@overload
async def eventually(
    predicate: Callable[[], _T],
    timeout: float = 10.0,  # noqa: ASYNC109
    interval: float = 0.05,
    *,
    what: str | None = None,
) -> _T: ...


async def eventually(
    predicate: Callable[[], object],
    timeout: float = 10.0,  # noqa: ASYNC109  # a polling deadline, not a cancellation scope
    interval: float = 0.05,
    *,
    what: str | None = None,
) -> object:
    """Poll `predicate` until it returns something truthy, and return that value.

    `predicate` may be sync or async. An `AssertionError` it raises counts as "not yet", so a
    predicate can assert with a useful message; any other exception propagates at once.

    Args:
        predicate: called every `interval` seconds until truthy.
        timeout: seconds before giving up.
        interval: seconds between calls.
        what: describes the condition in the failure message (default: the predicate's name).

    Raises:
        AssertionError: still falsy after `timeout`; names the condition, the wait, the number
            of attempts and the last value or assertion.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempts = 0
    last: object = None
    last_error: AssertionError | None = None
    while True:
        attempts += 1
        try:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
        except AssertionError as err:
            last_error, last = err, None
        else:
            if result:
                return result
            last_error, last = None, result
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        await asyncio.sleep(min(interval, remaining))
    name = what or getattr(predicate, "__qualname__", repr(predicate))
    detail = f"last assertion: {last_error}" if last_error else f"last result: {last!r}"
    msg = f"eventually: {name} was not true after {timeout:g}s ({attempts} attempts); {detail}"
    raise AssertionError(msg)


# --- hooks -------------------------------------------------------------------------------------


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def pytest_configure(config: pytest.Config) -> None:
    """Register the `slow` marker; make SIGTERM tear down like Ctrl-C.

    A CI timeout sends SIGTERM; by default that kills pytest before session fixtures finalise,
    leaving embedded servers (in their own sessions) running. As a KeyboardInterrupt, pytest
    runs every finaliser first.
    """
    config.addinivalue_line("markers", "slow: long-running tests (still run in CI)")
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _interrupt)
        config.stash[_SIGTERM_INSTALLED] = True


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_SIGTERM_INSTALLED, False):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


# --- servers -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kith_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where embedded servers started for this session keep their state and logs."""
    return tmp_path_factory.mktemp("kith-stack")


def _explicit(env: str, reachable: Callable[[str, float], bool]) -> str | None:
    url = os.environ.get(env, "").strip()
    if not url:
        return None
    if not reachable(url, _EXPLICIT_PROBE_SECONDS):
        pytest.fail(f"{env}={url!r} is set but not reachable", pytrace=False)
    return url


@pytest.fixture(scope="session")
def nats_url(kith_state_dir: Path) -> Iterator[str]:
    """A NATS server with JetStream: `$KITH_TEST_NATS_URL`, the machine's, or an embedded one."""
    explicit = _explicit(NATS_URL_ENV, devstack.nats_reachable)
    if explicit is not None:
        yield explicit
        return
    with devstack.nats_service(DEFAULT_TEST_NATS_URL, kith_state_dir) as (url, _):
        yield url


@pytest.fixture(scope="session")
def kith_postgres_server_url(kith_state_dir: Path) -> Iterator[str]:
    """The PostgreSQL server for this session (asyncpg URL of a database to administer from)."""
    explicit = _explicit(DATABASE_URL_ENV, devstack.postgres_reachable)
    if explicit is not None:
        yield (
            make_url(explicit)
            .set(drivername="postgresql+asyncpg")
            .render_as_string(hide_password=False)
        )
        return
    with devstack.postgres_service(DEFAULT_TEST_DATABASE_URL, kith_state_dir, keep_data=False) as (
        url,
        _,
    ):
        yield url


def _dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def _scratch_database(server_url: str, *, migrated: bool = True) -> AsyncIterator[str]:
    """A fresh `kith_test_<hex>` database, migrated unless asked not to, dropped on exit
    (asyncpg URL)."""
    # Imported here: the plugin loads before any test, and a broken migration should fail the
    # tests that need a database, not pytest's start-up.
    from kith_common.db.migrate import migrate

    server = make_url(server_url)
    name = f"kith_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_dsn(server))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = server.set(drivername="postgresql+asyncpg", database=name)
    rendered = url.render_as_string(hide_password=False)
    try:
        if migrated:
            await migrate(rendered)
        yield rendered
    finally:
        admin = await asyncpg.connect(_dsn(server))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def database_url(kith_postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh `kith_test_<hex>` database, migrated once, dropped after the session."""
    async with _scratch_database(kith_postgres_server_url) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def own_database_url(kith_postgres_server_url: str) -> AsyncIterator[str]:
    """A migrated database of this test alone, dropped after it.

    For tests of work over *every* account of a database (the weekly scan): the session's
    database holds every other test's accounts, so "every account" there grows with the suite.
    """
    async with _scratch_database(kith_postgres_server_url) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def empty_database_url(kith_postgres_server_url: str) -> AsyncIterator[str]:
    """An empty, unmigrated database of this test alone (the migration tests), dropped after."""
    async with _scratch_database(kith_postgres_server_url, migrated=False) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The session's engine on the migrated test database, disposed at the end."""
    from kith_common.db.session import create_engine

    created = create_engine(database_url)
    try:
        yield created
    finally:
        await created.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine, stream_prefix: str) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test database; open one per task, as the services do.

    Outbox rows written through them carry the test's stream prefix, so only this test's
    relays publish them.
    """
    from kith_common.db.session import session_factory as build_session_factory

    return build_session_factory(engine, stream_prefix=stream_prefix)


@pytest.fixture
def stream_prefix() -> str:
    """A unique alphanumeric prefix for stream names and subjects, one per test."""
    return "t" + uuid.uuid4().hex[:15]
