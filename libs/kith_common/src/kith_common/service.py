"""The process runtime every service is built on: bus, database, relay, health, drain.

A service's `build_app(settings)` creates a `Runtime`, registers its consumers (and, for the
gateway, an HTTP app), and returns it; `kith serve <name>` runs it until SIGTERM. Nothing here
touches the network before `start()`, so building an app in a test or at import is free.

Shutdown order (deploy.md §1): `/readyz` turns 503, consumers stop pulling and in-flight
handlers get `KITH_SHUTDOWN_GRACE_SECONDS` to finish (an unfinished message is not acked, so
JetStream redelivers it), the relay stops, NATS drains, HTTP servers close, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import nats
import structlog
import uvicorn
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kith_common.bus.consumers import ConsumerSpec, ensure_consumer
from kith_common.bus.credentials import broker_options, connect_options
from kith_common.bus.dlq import DeadLetterer
from kith_common.bus.relay import OutboxRelay
from kith_common.bus.streams import StreamLayout, ensure_streams
from kith_common.bus.subscribe import Consumer, Handler
from kith_common.db.migrate import head_revision
from kith_common.db.session import create_engine, session_factory
from kith_common.events.parties import SERVICES, publishes
from kith_common.health import HealthState, health_app
from kith_common.heap import freeze_startup_heap, release_startup_heap
from kith_common.logging import BROKER_LOGGER
from kith_common.presence import Heartbeat
from kith_common.settings import Settings

log = structlog.get_logger(__name__)
H = TypeVar("H", bound=Handler)
Hook = Callable[["Runtime"], Awaitable[None]]
Responder = Callable[[bytes], Awaitable[bytes]]
LISTEN_HOST = "0.0.0.0"  # noqa: S104  # pods are reached through their pod IP


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the runtime."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Runtime:
    """Everything one service process runs; start/stop are idempotent-safe and ordered."""

    def __init__(self, settings: Settings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.layout = StreamLayout(settings.stream_prefix)
        self.engine: AsyncEngine = create_engine(settings.database_url)
        # A Kith service may queue only the subjects the registry declares it publishes: the
        # NATS permissions of its user are generated from the same declarations.
        self.publishes = publishes(service) if service in SERVICES else None
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(
            self.engine, stream_prefix=settings.stream_prefix, publishes=self.publishes
        )
        self.broker = NatsBroker(
            settings.nats_url,
            graceful_timeout=float(settings.shutdown_grace_seconds),
            # FastStream's own logger writes coloured text to stdout, past the JSON pipeline.
            logger=logging.getLogger(BROKER_LOGGER),
            log_level=logging.DEBUG,
            connect_timeout=5,
            max_reconnect_attempts=-1,
            **broker_options(settings, service),
        )
        self.dead_letters = DeadLetterer(self.layout)
        self.consumers: list[Consumer] = []
        self.http_apps: list[tuple[Any, int]] = []
        self.on_start: list[Hook] = []
        self.on_stop: list[Hook] = []
        self.responders: list[tuple[str, str, Responder]] = []
        self.health = HealthState(alive=self._alive)
        self.health.checks.update(
            database=self._check_database, nats=self._check_nats, consumers=self._check_bound
        )
        self.nc: NatsClient | None = None
        self.js: JetStreamContext | None = None
        self._relay: OutboxRelay | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._presence_task: asyncio.Task[None] | None = None
        self._servers: list[uvicorn.Server] = []
        self._bound = False
        self._stopped = asyncio.Event()
        # service_instances: the console shows which services run and which restarted.
        self.presence = Heartbeat(
            self.sessions,
            service,
            settings.stream_prefix,
            settings.presence_interval_seconds,
        )

    # --- composition -------------------------------------------------------------------------

    def consume(self, spec: ConsumerSpec, payload: type[BaseModel]) -> Callable[[H], H]:
        """Decorator: bind `handler` to the durable `spec`, its messages typed as `payload`."""

        def register(handler: H) -> H:
            consumer = Consumer(
                spec,
                handler,
                payload,
                sessions=self.sessions,
                layout=self.layout,
                dead_letters=self.dead_letters,
                inbox_prefix=connect_options(self.settings, self.service)["inbox_prefix"],
            )
            consumer.register(self.broker)
            self.consumers.append(consumer)
            return handler

        return register

    def respond(self, subject: str, queue: str, handler: Responder) -> None:
        """Answer core-NATS requests on `subject` (prefixed) in queue group `queue`.

        For request/reply only (ARCHITECTURE §3: `kith.rpc.*`, in no stream). `handler` gets the
        request body and returns the reply body; it must not raise (answer with an error reply).
        """
        self.responders.append((subject, queue, handler))

    def serve_http(self, app: Any, port: int) -> None:
        """Serve an ASGI app (the gateway's API) beside the health server."""
        self.http_apps.append((app, port))

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, declare streams and durables, start consuming, relaying and serving."""
        settings = self.settings
        self.nc = await nats.connect(
            settings.nats_url,
            name=f"kith-{self.service}",
            max_reconnect_attempts=-1,
            **connect_options(settings, self.service),
        )
        self.js = self.nc.jetstream()
        self.dead_letters.bind(self.js)
        await ensure_streams(
            self.js,
            self.layout,
            replicas=settings.nats_replicas,
            retention_days=settings.event_retention_days,
        )
        for consumer in self.consumers:
            await ensure_consumer(self.js, consumer.spec, self.layout)
        await self.broker.start()
        for subject, queue, responder in self.responders:
            await self._subscribe_responder(subject, queue, responder)
        self._bound = True
        self._relay = OutboxRelay(
            session_factory=self.sessions,
            js=self.js,
            layout=self.layout,
            database_url=settings.database_url,
            inbox_retention_days=settings.event_retention_days + 1,
            subjects=(self.publishes or frozenset()) if settings.nats_user else None,
        )
        self._relay_task = asyncio.create_task(self._relay.run(), name="outbox-relay")
        self._relay_task.add_done_callback(self._on_relay_done)
        self._tasks.append(self._relay_task)
        await self.presence.start()
        self._presence_task = asyncio.create_task(self.presence.run(), name="presence")
        for hook in self.on_start:
            await hook(self)
        self._start_http(health_app(self.health), settings.metrics_port)
        for app, port in self.http_apps:
            self._start_http(app, port)
        log.info("service_started", consumers=[c.spec.durable for c in self.consumers])

    async def stop(self) -> None:
        """Drain in the order of deploy.md §1; safe to call twice."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.draining = True
        log.info("service_draining", in_flight=sum(c.in_flight for c in self.consumers))
        for hook in self.on_stop:
            with contextlib.suppress(Exception):
                await hook(self)
        # FastStream stops pulling and waits up to graceful_timeout for running handlers.
        await self.broker.stop()
        self._bound = False
        if self._relay is not None:
            await self._relay.stop()
        for server in self._servers:
            server.should_exit = True
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        for task in self._tasks:
            task.cancel()
        if self._presence_task is not None:
            self._presence_task.cancel()
            await asyncio.wait([self._presence_task])
            await self.presence.stop()
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        await self.engine.dispose()
        log.info("service_stopped")

    async def run_until_signalled(self) -> None:
        """`kith serve`: start, wait for SIGTERM or SIGINT, drain, return (exit 0)."""
        loop = asyncio.get_running_loop()
        received = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, received.set)
        try:
            await self.start()
            freeze_startup_heap()
            await received.wait()
            await self.stop()
        finally:
            release_startup_heap()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    # --- internals ---------------------------------------------------------------------------

    def _start_http(self, app: Any, port: int) -> None:
        config = uvicorn.Config(
            app,
            host=LISTEN_HOST,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            # Forwarded headers only from the proxies the operator names (a TLS-terminating
            # ingress): then request.url.scheme is https and console cookies are Secure. Any
            # other client could forge them, so with none named none are believed.
            proxy_headers=bool(self.settings.trusted_proxies),
            forwarded_allow_ips=self.settings.trusted_proxies or None,
        )
        server = _QuietServer(config)
        self._servers.append(server)
        self._tasks.append(asyncio.create_task(server.serve(), name=f"http-{port}"))

    async def _subscribe_responder(self, subject: str, queue: str, responder: Responder) -> None:
        assert self.nc is not None

        async def answer(msg: Any) -> None:
            try:
                reply = await responder(msg.data)
            except Exception as err:  # a responder bug must not kill the subscription
                log.error("request_answer_failed", subject=subject, error=type(err).__name__)
                return
            if msg.reply:
                await msg.respond(reply)

        async def dispatch(msg: Any) -> None:
            # Answer concurrently: one slow check must not hold the others up.
            self._tasks.append(asyncio.create_task(answer(msg)))
            self._tasks[:] = [t for t in self._tasks if not t.done()]

        await self.nc.subscribe(self.layout.subject(subject), queue=queue, cb=dispatch)

    def _alive(self) -> bool:
        """Dead when NATS is closed or the relay ended while not stopping: a process without
        its relay would hold committed events back, so the orchestrator must restart it."""
        if self._relay_task is not None and self._relay_task.done() and not self._stopped.is_set():
            return False
        return self.nc is None or not self.nc.is_closed

    def _on_relay_done(self, task: asyncio.Task[None]) -> None:
        if self._stopped.is_set() or task.cancelled():
            return
        error = task.exception()
        log.error(
            "outbox_relay_ended",
            error=str(error) if error else None,
            error_type=type(error).__name__ if error else None,
        )

    async def _check_database(self) -> str | None:
        async with self.engine.connect() as conn:
            current = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        head = head_revision()
        if current != head:
            return f"schema at {current}, code expects {head}"
        return None

    async def _check_nats(self) -> str | None:
        if self.nc is None or not self.nc.is_connected or self.js is None:
            return "not connected"
        for name in (self.layout.cmd, self.layout.evt, self.layout.dlq):
            await self.js.stream_info(name)
        return None

    async def _check_bound(self) -> str | None:
        return None if self._bound else "consumers not bound"
