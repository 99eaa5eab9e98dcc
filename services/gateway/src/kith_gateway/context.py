"""What every request needs from the process: settings, sessions, the stream layout, NATS.

Built once by `create_api`; routes reach it through `deps`. `sessions` is the runtime's
(transactions, pre-ping) for requests that write; `reads` is the autocommit read pool that
GET and HEAD requests use (`kith_gateway.database`). NATS is the runtime's connection
once the runtime started; a test driving the ASGI app without a runtime gets a lazily opened
connection of its own (`NatsLink`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.bus.streams import StreamLayout
from kith_common.settings import Settings


@dataclass
class NatsLink:
    """The runtime's NATS connection, or one of our own opened on first use."""

    url: str
    runtime_nc: Callable[[], NatsClient | None]
    options: dict[str, Any] = field(default_factory=dict)  # credentials, inbox prefix
    _own: NatsClient | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def client(self) -> NatsClient:
        nc = self.runtime_nc()
        if nc is not None and not nc.is_closed:
            return nc
        async with self._lock:
            if self._own is None or self._own.is_closed:
                self._own = await nats.connect(
                    self.url, name="kith-gateway-link", max_reconnect_attempts=-1, **self.options
                )
            return self._own

    async def close(self) -> None:
        if self._own is not None and not self._own.is_closed:
            await self._own.close()


@dataclass
class GatewayContext:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    reads: async_sessionmaker[AsyncSession]
    layout: StreamLayout
    nats: NatsLink
