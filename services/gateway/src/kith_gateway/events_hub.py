"""The live event fan-out behind `GET /v1/events`.

One core-NATS subscription on `kith.evt.>` per gateway process (opened with the first
listener), fanned out to per-connection queues keyed by account: a listener only ever sees
envelopes whose `account_id` is its own. Core NATS, not a durable: the stream is a live view,
and a client that needs history reads the resources. A listener that stops reading loses
events once its queue is full rather than slowing everyone else (counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter as Counter_
from collections import defaultdict
from dataclasses import dataclass

import structlog
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from prometheus_client import Counter, Gauge

from kith_common.bus.streams import StreamLayout
from kith_common.events.subjects import EVT_ALL, unprefixed
from kith_common.metrics import REGISTRY
from kith_gateway.context import NatsLink

log = structlog.get_logger(__name__)

QUEUE_SIZE = 1000
SSE_LISTENERS = Gauge(
    "kith_gateway_sse_listeners", "Open GET /v1/events connections.", registry=REGISTRY
)
SSE_DROPPED = Counter(
    "kith_gateway_sse_dropped_events_total",
    "Events not delivered to a listener whose queue was full.",
    registry=REGISTRY,
)


@dataclass(frozen=True, slots=True)
class LiveEvent:
    id: str
    type: str
    subject: str
    body: str


class EventHub:
    def __init__(self, link: NatsLink, layout: StreamLayout) -> None:
        self._link = link
        self._layout = layout
        self._listeners: dict[int, set[asyncio.Queue[LiveEvent]]] = defaultdict(set)
        self._subscription: Subscription | None = None
        self._lock = asyncio.Lock()
        self._streams: Counter_[bytes] = Counter_()

    def claim(self, token_key: bytes, limit: int) -> bool:
        """Count one more open stream of a token; False (nothing counted) at `limit`."""
        if self._streams[token_key] >= limit:
            return False
        self._streams[token_key] += 1
        return True

    def release(self, token_key: bytes) -> None:
        self._streams[token_key] -= 1
        if self._streams[token_key] <= 0:
            del self._streams[token_key]

    async def listen(self, account_id: int) -> asyncio.Queue[LiveEvent]:
        await self._ensure_subscribed()
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._listeners[account_id].add(queue)
        SSE_LISTENERS.inc()
        return queue

    def leave(self, account_id: int, queue: asyncio.Queue[LiveEvent]) -> None:
        listeners = self._listeners.get(account_id)
        if listeners is not None and queue in listeners:
            listeners.discard(queue)
            SSE_LISTENERS.dec()
            if not listeners:
                self._listeners.pop(account_id, None)

    async def _ensure_subscribed(self) -> None:
        async with self._lock:
            if self._subscription is not None:
                return
            nc = await self._link.client()
            self._subscription = await nc.subscribe(self._layout.subject(EVT_ALL), cb=self._on)
            # The subscription is registered with the server before a listener is told it is
            # connected, so nothing published afterwards can be missed.
            await nc.flush()

    async def _on(self, msg: Msg) -> None:
        try:
            head = json.loads(msg.data)
            account_id = head.get("account_id")
        except (ValueError, AttributeError):
            return
        listeners = self._listeners.get(account_id) if isinstance(account_id, int) else None
        if not listeners:
            return
        event = LiveEvent(
            id=str(head.get("id", "")),
            type=str(head.get("type", "")),
            subject=unprefixed(msg.subject),
            body=msg.data.decode("utf-8", "replace"),
        )
        for queue in list(listeners):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                SSE_DROPPED.inc()

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None
