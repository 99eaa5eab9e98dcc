"""A slow, stalling or rate-limiting Monica cannot hold a worker (issue #20), over real sockets.

Each server here is a raw asyncio TCP server on 127.0.0.1: it can drip bytes, stall, or
answer 429 with any Retry-After, which a well-behaved ASGI app cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from kith_common.monica.client import MonicaClient
from kith_common.monica.errors import MonicaInterrupted, MonicaRetryLater, MonicaUnavailable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            await reader.readuntil(b"\r\n\r\n")
            await handler(reader, writer)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        # Handlers still dripping are cancelled with the server's connections.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)


def _client(url: str, **kw: object) -> MonicaClient:
    return MonicaClient(url, "token", allow_private=True, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("stage", ["headers", "body"])
async def test_a_slow_loris_monica_is_cut_off_by_the_request_deadline(stage: str) -> None:
    """One byte at a time, each well inside the read timeout: only a deadline ends it."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"

    async def drip(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if stage == "body":
            writer.write(head)
        for byte in head if stage == "headers" else b'{"data": {' + b" " * 190:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)

    async with (
        raw_server(drip) as url,
        _client(url, read_timeout=5.0, request_deadline=0.8, max_retries=0) as client,
    ):
        async with asyncio.timeout(10):  # the test's own bound: without the deadline, 40 s
            with pytest.raises(MonicaUnavailable, match=r"within 0\.8 s"):
                await client.me()


async def test_a_retry_after_beyond_the_cap_fails_at_once_with_a_readable_reason() -> None:
    async def limited(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3600\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with raw_server(limited) as url, _client(url, sleep=sleep, max_retry_after=120) as client:
        with pytest.raises(MonicaRetryLater) as caught:
            await client.me()
    assert caught.value.message == (
        "GET /api/me: Monica's rate limit was hit: Monica asked to wait 3600 s, longer than "
        "the 120 s the importer waits; start the import again later"
    )
    assert slept == []  # no hour-long wait, no retries
    assert client.stats.requests == 1


async def test_setting_the_interrupt_stops_a_request_in_flight() -> None:
    """A cancel reaches a request that is waiting for Monica's answer, not only the limiter."""
    connected = asyncio.Event()

    async def stall(_: asyncio.StreamReader, __: asyncio.StreamWriter) -> None:
        connected.set()
        await asyncio.Event().wait()  # never answers

    interrupt = asyncio.Event()
    async with raw_server(stall) as url, _client(url, interrupt=interrupt) as client:
        request = asyncio.create_task(client.me())
        await connected.wait()
        interrupt.set()
        async with asyncio.timeout(5):  # without the interrupt: the 60 s read timeout
            with pytest.raises(MonicaInterrupted):
                await request
