"""Run a `FakeMonica` under uvicorn on 127.0.0.1 (random port) in a background thread.

A thread of its own keeps the fake answering while a test's event loop is busy or blocked,
and lets subprocess tests (real `kith serve importer` processes) reach it over real HTTP.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType

import uvicorn

from kith_common.testing.fake_monica.app import FakeMonica

__all__ = ["FakeMonicaServer"]


class FakeMonicaServer:
    """`with FakeMonicaServer(fake) as server: server.url` → `http://127.0.0.1:<port>`."""

    def __init__(self, fake: FakeMonica, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        # A `slow` fault may still be sleeping for a client that gave up: stop within 1 s.
        config = uvicorn.Config(
            fake, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="fake-monica", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> FakeMonicaServer:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                msg = "the fake Monica server failed to start"
                raise RuntimeError(msg)
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> FakeMonicaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
