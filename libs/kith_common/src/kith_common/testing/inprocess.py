"""The whole Kith flow in one background thread, for tests whose client is not asyncio.

A `kith` subprocess or a browser driven by Playwright's sync API needs a running system on a
URL while the test itself stays synchronous. `InProcessStack` runs every service's real
runtime on one event loop in a daemon thread: each built by its own `build_app(settings)`,
found through the `kith.services` entry points (so kith_common imports no service), sharing
the harness's stream prefix and the test database, the gateway on a free port. The fake
Monica is the caller's, reached over real HTTP.

Five runtimes in one process start in about a second; `kith_common.testing.stack.Stack` (one
process each, seconds of cold start apiece) is for what needs real processes: kills,
replicas, restarts.

    storage = tmp_path / "storage"
    with InProcessStack(Harness(database_url, nats_url, prefix), storage) as stack:
        account = stack.call(make_account(stack.sessions))
        httpx.get(f"{stack.base_url}/v1/contacts", headers=account.headers())
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.cli.main import load_service
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.testing.bus import Harness, drop_streams
from kith_common.testing.stack import SERVICES, free_port

__all__ = ["Builder", "InProcessStack", "stack_fixture", "wait_listening"]

T = TypeVar("T")
Builder = Callable[[Settings], Runtime]
"""A service's `build_app(settings)`, or a test's variant of it."""

START_SECONDS = 90.0  # a safety net for a hung start, not a speed check
STOP_SECONDS = 60.0


@dataclass
class InProcessStack:
    """All five services on their own event loop; `call` runs a coroutine there.

    Attributes:
        harness: The stream prefix, database and NATS the runtimes share.
        storage: The directory of the `file://` storage backend.
        builders: Per service name, a builder used instead of its entry point (an importer
            with short backoffs, say).
        overrides: Settings on top of the defaults (private Monica hosts allowed, no rate
            limit, the storage directory, a free gateway port).
        per_service: Per service name, settings on top of those (its own NATS user, say).
        drop_streams: Delete the prefixed streams on stop (not on a server of the test's own).
        base_url: The gateway's URL, once started.
    """

    harness: Harness
    storage: Path
    builders: Mapping[str, Builder] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)
    per_service: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    drop_streams: bool = True
    base_url: str = ""
    _runtimes: dict[str, Runtime] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None
    _thread: threading.Thread | None = None
    _port: int = 0

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The gateway's session factory (its rows carry this stack's prefix); use in `call`."""
        return self._runtimes["gateway"].sessions

    def start(self) -> Self:
        """Start every service and return once the gateway listens.

        Raises:
            RuntimeError: A service failed to build or start (the cause is chained), or the
                stack hung; whatever had started is stopped again.
        """
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        if not self._ready.wait(START_SECONDS) or self._error is not None:
            msg = f"the service stack did not start: {self._error!r}"
            raise RuntimeError(msg) from self._error
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run `coro` on the stack's loop (where its engines live) and return its result."""
        assert self._loop is not None, "start the stack first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop_service(self, name: str) -> None:
        """Stop one service's runtime cleanly, as a `kith dev` child that exits would."""
        self.call(self._runtimes[name].stop())

    def start_service(self, name: str) -> None:
        """Start a new runtime of a stopped service (a new process, as far as presence knows)."""
        runtime = self._build(name, self._settings(self._port, name))
        self.call(runtime.start())
        self._runtimes[name] = runtime

    def stop(self) -> None:
        """Stop every runtime (last started, first stopped) and drop the prefixed streams."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(STOP_SECONDS)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _settings(self, port: int, service: str) -> Settings:
        defaults: dict[str, Any] = {
            "gateway_port": port,
            "import_allow_private_hosts": True,
            "monica_rate_limit_per_minute": 0,
            "storage_url": f"file://{self.storage}",
        }
        own = self.per_service.get(service, {})
        return self.harness.settings(**{**defaults, **self.overrides, **own})

    def _build(self, name: str, settings: Settings) -> Runtime:
        builder: Builder = self.builders.get(name) or load_service(name)
        return builder(settings)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        port = self._port = free_port()
        started: list[Runtime] = []
        try:
            for name in SERVICES:
                self._runtimes[name] = self._build(name, self._settings(port, name))
            for runtime in self._runtimes.values():
                await runtime.start()
                started.append(runtime)
            await wait_listening(port)
            self.base_url = f"http://127.0.0.1:{port}"
        except BaseException as err:  # start() re-raises it in the caller's thread
            self._error = err
            self._ready.set()
            await self._shutdown(started)
            return
        self._ready.set()
        await self._stop.wait()
        await self._shutdown(list(self._runtimes.values()))  # with any restarted since

    async def _shutdown(self, started: list[Runtime]) -> None:
        for runtime in reversed(started):
            await runtime.stop()
        if self.drop_streams:
            await drop_streams(self.harness.nats_url, self.harness.prefix)


def stack_fixture(
    database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path
) -> Iterator[InProcessStack]:
    """The body of a per-test `stack` fixture; its arguments are the kith plugin's fixtures.

    A conftest makes it a fixture with `stack = pytest.fixture(stack_fixture, name="stack")`,
    so test directories that cannot import each other still share one definition.
    """
    harness = Harness(database_url, nats_url, stream_prefix)
    with InProcessStack(harness, tmp_path / "storage") as running:
        yield running


async def wait_listening(port: int, attempts: int = 400) -> None:
    """Wait until 127.0.0.1:`port` accepts connections.

    `Runtime.start` returns before uvicorn has bound its socket, so a client started at once
    could be refused.

    Raises:
        RuntimeError: Nothing listened after `attempts` tries 50 ms apart.
    """
    for _ in range(attempts):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    msg = f"nothing listened on {port}"
    raise RuntimeError(msg)
