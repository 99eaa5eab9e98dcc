"""A real gateway process in a background thread, for clients that are not asyncio (tests).

It runs the whole runtime (uvicorn, outbox relay, NATS) on its own event loop, creates an
account with one user per role, a second account and an operator token, and stands in for the
importer on the connection-check request/reply (answering "unreachable"), so every route can be
driven over real HTTP.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from nats.aio.msg import Msg

from kith_common.events import subjects
from kith_common.events.payloads.imports import CheckConnectionReply
from kith_common.events.registry import build_reply, parse_envelope
from kith_common.settings import Settings
from kith_common.testing.inprocess import wait_listening
from kith_common.testing.stack import free_port
from kith_gateway.app import build_app
from kith_gateway.testing import TestAccount, make_account, make_operator


@dataclass
class ServerThread:
    settings: Settings
    base_url: str = ""
    account: TestAccount | None = None
    spare: TestAccount | None = None
    operator_token: str = ""
    _ready: threading.Event = field(default_factory=threading.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def start(self) -> ServerThread:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        if not self._ready.wait(60) or self._error is not None:
            msg = f"gateway thread did not start: {self._error!r}"
            raise RuntimeError(msg)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        port = free_port()
        runtime = build_app(self.settings.model_copy(update={"gateway_port": port}))
        try:
            await runtime.start()
            assert runtime.nc is not None
            await runtime.nc.subscribe(
                runtime.layout.subject(subjects.RPC_IMPORT_CHECK_CONNECTION),
                queue="importer",
                cb=_fake_importer,
            )
            self.account = await make_account(runtime.sessions)
            self.spare = await make_account(runtime.sessions)
            self.operator_token = await make_operator(runtime.sessions)
            self.base_url = f"http://127.0.0.1:{port}"
            await wait_listening(port)
        except BaseException as err:
            self._error = err
            self._ready.set()
            await runtime.stop()
            raise
        self._ready.set()
        await self._stop.wait()
        await runtime.stop()


async def _fake_importer(msg: Msg) -> None:
    request = parse_envelope(subjects.RPC_IMPORT_CHECK_CONNECTION, msg.data)
    reply: Any = build_reply(
        subjects.RPC_IMPORT_CHECK_CONNECTION,
        CheckConnectionReply(ok=False, code="unreachable", message="test importer"),
        request=request,
    )
    await msg.respond(reply.model_dump_json().encode())
