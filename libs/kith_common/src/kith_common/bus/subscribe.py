"""The consume wrapper: what runs around every handler, so handlers stay ten lines.

For each delivery it parses the envelope, binds log context, opens the transaction, writes
the inbox row, holds the generation fence, calls the handler, commits and acks. A failure is
nacked *with a delay* until `max_deliver`, then copied with its error to KITH_DLQ and acked;
a permanent error (or an unparseable message) goes to the DLQ at once; a duplicate or a stale
generation is acked with no effect. While a handler runs its message is kept alive with
`in_progress` acks, so a long handler is not redelivered under it. A failure after which
PostgreSQL does not answer is an outage, not the message's fault: the wrapper waits for the
database and runs the handler again on the same delivery, spending none of its retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence, metrics
from kith_common.bus import inbox, outbox
from kith_common.bus.consumers import ConsumerSpec
from kith_common.bus.dlq import DeadLetterer
from kith_common.bus.streams import StreamLayout
from kith_common.db import outage
from kith_common.errors import Permanent, StaleGeneration
from kith_common.events.envelope import READER_CONTEXT, Envelope, Payload
from kith_common.events.registry import build_envelope

P = TypeVar("P", bound=BaseModel)
log = structlog.get_logger(__name__)

OUTCOME_OK = "ok"
OUTCOME_DUPLICATE = "duplicate"
OUTCOME_STALE = "stale"
OUTCOME_RETRIED = "retried"
OUTCOME_DEAD = "dead_lettered"


@dataclass(slots=True)
class MessageContext(Generic[P]):
    """What a handler receives: the typed envelope and the means to act on it.

    `session` is the open, fenced transaction of a transactional handler (None for a long
    handler, which opens its own with `unit_of_work()`).
    """

    envelope: Envelope[P]
    consumer: str
    deliveries: int
    session: AsyncSession | None
    _sessions: async_sessionmaker[AsyncSession] = field(repr=False)
    _keepalive: Callable[[], Awaitable[None]] = field(repr=False)

    @property
    def data(self) -> P:
        return self.envelope.data

    @property
    def tx(self) -> AsyncSession:
        """The handler's transaction; only transactional handlers have one."""
        if self.session is None:
            msg = f"{self.consumer} is long-running: open transactions with unit_of_work()"
            raise RuntimeError(msg)
        return self.session

    async def heartbeat(self) -> None:
        """Tell JetStream the message is still being worked on (long handlers call it often)."""
        await self._keepalive()

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A fenced transaction for one step of a long handler; commits on normal exit.

        Raises StaleGeneration (rolled back, nothing written) once the account was reset.
        """
        async with self._sessions() as session, session.begin():
            await self._hold_fence(session)
            yield session

    async def _hold_fence(self, session: AsyncSession) -> None:
        if self.envelope.account_id is not None and self.envelope.generation is not None:
            await fence.hold(session, self.envelope.account_id, self.envelope.generation)

    def follow_up(self, subject: str, data: Payload) -> Envelope[Payload]:
        """An envelope caused by this one: same account, generation and correlation id."""
        return build_envelope(
            subject,
            data,
            account_id=self.envelope.account_id,
            generation=self.envelope.generation,
            correlation_id=self.envelope.correlation_id,
        )

    async def publish(
        self, subject: str, data: Payload, *, session: AsyncSession | None = None
    ) -> Envelope[Payload]:
        """Queue a follow-up message in the outbox of `session` (default: the handler's)."""
        envelope = self.follow_up(subject, data)
        await outbox.add(session or self.tx, subject, envelope)
        return envelope


Handler = Callable[[MessageContext[Any]], Awaitable[None]]


class Consumer:
    """One durable bound to one handler; `register` attaches it to a FastStream broker."""

    def __init__(
        self,
        spec: ConsumerSpec,
        handler: Handler,
        payload: type[BaseModel],
        *,
        sessions: async_sessionmaker[AsyncSession],
        layout: StreamLayout,
        dead_letters: DeadLetterer,
        inbox_prefix: str = "_INBOX",
    ) -> None:
        self.spec = spec
        self._handler = handler
        self._envelope_type: type[Envelope[Any]] = Envelope[payload]  # type: ignore[valid-type]
        self._sessions = sessions
        self._layout = layout
        self._dead_letters = dead_letters
        # Pull requests are answered on `<prefix>.<nuid>`: the only inboxes the service's NATS
        # user may subscribe to (bus.permissions).
        self._inbox = f"{inbox_prefix}.".encode()
        self.in_flight = 0

    def register(self, broker: NatsBroker) -> None:
        spec = self.spec
        subscriber = broker.subscriber(
            self._layout.subject(spec.subject),
            stream=JStream(self._layout.name_for(spec.stream), declare=False),
            durable=spec.durable,
            pull_sub=PullSub(batch_size=1, timeout=1.0),
            ack_policy=AckPolicy.MANUAL,
            max_workers=spec.concurrency,
            inbox_prefix=self._inbox,
            title=spec.durable,
            description=spec.description or None,
        )

        async def consume(msg: NatsMessage) -> None:
            await self.process(msg)

        subscriber(consume)

    async def process(self, msg: NatsMessage) -> None:
        """Handle one delivery end to end; never raises (FastStream must not reject it)."""
        spec = self.spec
        deliveries = msg.raw_message.metadata.num_delivered or 1
        self.in_flight += 1
        started = time.perf_counter()
        outcome = OUTCOME_OK
        try:
            with structlog.contextvars.bound_contextvars(
                consumer=spec.durable, msg_id=msg.headers.get("Nats-Msg-Id")
            ):
                outcome = await self._process(msg, deliveries)
        finally:
            self.in_flight -= 1
            metrics.MESSAGES_HANDLED.labels(spec.durable, outcome).inc()
            metrics.HANDLER_SECONDS.labels(spec.durable).observe(time.perf_counter() - started)

    async def _process(self, msg: NatsMessage, deliveries: int) -> str:
        try:
            # Tolerant reader: a newer producer's extra fields are no reason to dead-letter.
            envelope = self._envelope_type.model_validate_json(msg.body, context=READER_CONTEXT)
        except ValidationError as err:
            return await self._dead_letter(msg, deliveries, err, envelope=None)
        with structlog.contextvars.bound_contextvars(
            account_id=envelope.account_id,
            correlation_id=str(envelope.correlation_id) if envelope.correlation_id else None,
        ):
            if deliveries > self.spec.max_deliver:
                # The previous attempt died without answering (crash, ack_wait timeout).
                exhausted = RuntimeError(f"gave up after {self.spec.max_deliver} deliveries")
                return await self._dead_letter(msg, deliveries, exhausted, envelope=envelope)
            keepalive = asyncio.create_task(self._keep_alive(msg))
            try:
                outcome = await self._run_through_outages(envelope, deliveries, msg)
            except StaleGeneration as err:
                log.info("message_stale_dropped", reason=str(err))
                outcome = OUTCOME_STALE
            except Permanent as err:
                return await self._dead_letter(msg, deliveries, err, envelope=envelope)
            except Exception as err:
                if deliveries >= self.spec.max_deliver:
                    return await self._dead_letter(msg, deliveries, err, envelope=envelope)
                delay = self.spec.nack_delay(deliveries)
                log.warning(
                    "message_retry_scheduled",
                    deliveries=deliveries,
                    delay_seconds=delay,
                    error=f"{type(err).__name__}: {err}",
                )
                await msg.nack(delay=delay)
                return OUTCOME_RETRIED
            finally:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keepalive
            await msg.ack()
            return outcome

    async def _run_through_outages(
        self, envelope: Envelope[Any], deliveries: int, msg: NatsMessage
    ) -> str:
        """`_run`, again on the same delivery for as long as failures are database outages.

        Nack delays (1 + 5 + 15 + 60 s) would dead-letter every message handled during a
        longer outage. Only a failure after which the database does not answer counts, so a
        handler's own error still takes the normal retry path; the keepalive holds the
        message meanwhile, and a draining process cancels the wait (the message is then
        redelivered after ack_wait).
        """
        while True:
            try:
                return await self._run(envelope, deliveries, msg)
            except (StaleGeneration, Permanent):
                raise
            except Exception as err:
                if await outage.database_answers(self._sessions):
                    raise
                log.warning("message_waiting_for_database", error_type=type(err).__name__)
                waited = await outage.wait_for_database(self._sessions)
                log.info("message_retried_after_outage", waited_seconds=round(waited, 1))

    async def _run(self, envelope: Envelope[Any], deliveries: int, msg: NatsMessage) -> str:
        spec = self.spec

        async def keepalive() -> None:
            await msg.in_progress()

        if spec.long_running:
            async with self._sessions() as session:
                if await inbox.seen(session, spec.durable, envelope.id):
                    return OUTCOME_DUPLICATE
            ctx = MessageContext(
                envelope, spec.durable, deliveries, None, self._sessions, keepalive
            )
            await self._handler(ctx)
            async with self._sessions() as session, session.begin():
                await inbox.claim(session, spec.durable, envelope.id, envelope.account_id)
            return OUTCOME_OK

        async with self._sessions() as session, session.begin():
            if not await inbox.claim(session, spec.durable, envelope.id, envelope.account_id):
                return OUTCOME_DUPLICATE
            ctx = MessageContext(
                envelope, spec.durable, deliveries, session, self._sessions, keepalive
            )
            await ctx._hold_fence(session)
            await self._handler(ctx)
        return OUTCOME_OK

    async def _keep_alive(self, msg: NatsMessage) -> None:
        interval = max(0.5, self.spec.ack_wait / 3)
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _dead_letter(
        self,
        msg: NatsMessage,
        deliveries: int,
        err: BaseException,
        *,
        envelope: Envelope[Any] | None,
    ) -> str:
        try:
            await self._dead_letters.send(
                consumer=self.spec.durable,
                subject=msg.raw_message.subject,
                body=msg.body,
                envelope=envelope,
                error=err,
                deliveries=deliveries,
                stream_sequence=msg.raw_message.metadata.sequence.stream,
            )
        except Exception as publish_err:
            # Keep the original: it is retried after the delay instead of being lost.
            log.warning("dead_letter_failed", error=str(publish_err))
            await msg.nack(delay=self.spec.nack_delay(deliveries))
            return OUTCOME_RETRIED
        await msg.ack()
        metrics.DLQ_MESSAGES.labels(self.spec.durable).inc()
        log.error(
            "message_dead_lettered",
            deliveries=deliveries,
            error=f"{type(err).__name__}: {err}",
        )
        return OUTCOME_DEAD
