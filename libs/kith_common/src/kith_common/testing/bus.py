"""A bus test harness: runtimes on a test-prefixed stream layout and a scratch effects table.

Used by kith_common's bus tests and by services' handler tests that need real delivery.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.bus.consumers import ConsumerSpec
from kith_common.bus.subscribe import MessageContext
from kith_common.events.payloads.dedup import ScanDuplicates
from kith_common.events.registry import build_envelope
from kith_common.events.subjects import DEDUP_SCAN, STREAM_CMD
from kith_common.service import Runtime
from kith_common.settings import Settings

EFFECTS_DDL = """
CREATE TABLE IF NOT EXISTS kith_testing.bus_effects (
    id bigserial PRIMARY KEY,
    consumer text NOT NULL,
    message_id uuid NOT NULL,
    runtime text NOT NULL
)
"""


@dataclass
class Harness:
    """Builds runtimes sharing one prefix; records effects in `kith_testing.bus_effects`
    (a schema of its own, so the application schema stays exactly the models')."""

    database_url: str
    nats_url: str
    prefix: str
    runtimes: list[Runtime] = field(default_factory=list)

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "nats_url": self.nats_url,
            "stream_prefix": self.prefix,
            "metrics_port": 0,
            "shutdown_grace_seconds": 5,
            "log_format": "console",
        }
        values.update(overrides)
        return Settings(**values)

    def runtime(self, name: str = "test", **overrides: Any) -> Runtime:
        runtime = Runtime(self.settings(**overrides), name)
        self.runtimes.append(runtime)
        return runtime

    def spec(self, durable: str = "test-worker", **kw: Any) -> ConsumerSpec:
        return ConsumerSpec(durable=durable, subject=DEDUP_SCAN, stream=STREAM_CMD, **kw)

    def recording_handler(
        self,
        runtime_name: str,
        before: Callable[[MessageContext[Any]], Awaitable[None]] | None = None,
    ) -> Callable[[MessageContext[Any]], Awaitable[None]]:
        async def handle(ctx: MessageContext[Any]) -> None:
            if before is not None:
                await before(ctx)
            await record_effect(ctx.tx, ctx.consumer, ctx.envelope.id, runtime_name)

        return handle

    async def effects(
        self, message_id: uuid.UUID | None = None
    ) -> list[tuple[str, uuid.UUID, str]]:
        runtime = self.runtimes[0] if self.runtimes else self.runtime("reader")
        async with runtime.sessions() as session:
            query = "SELECT consumer, message_id, runtime FROM kith_testing.bus_effects"
            params: dict[str, Any] = {}
            if message_id is not None:
                query += " WHERE message_id = :mid"
                params["mid"] = message_id
            rows = (await session.execute(text(query), params)).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    async def has_effect(self, message_id: uuid.UUID) -> bool:
        return bool(await self.effects(message_id))

    async def publish_raw(
        self, js: JetStreamContext, envelope: Any, msg_id: str, subject: str = DEDUP_SCAN
    ) -> None:
        """Publish straight to JetStream (bypassing the outbox), as a test of the consumer."""
        await js.publish(
            f"{self.prefix}.{subject}",
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": msg_id},
        )


async def record_effect(
    session: AsyncSession, consumer: str, message_id: uuid.UUID, runtime: str
) -> None:
    await session.execute(
        text(
            "INSERT INTO kith_testing.bus_effects (consumer, message_id, runtime) "
            "VALUES (:c, :m, :r)"
        ),
        {"c": consumer, "m": message_id, "r": runtime},
    )


async def drop_streams(nats_url: str, prefix: str) -> None:
    """Delete the prefixed streams a harness created."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for base in ("KITH_CMD", "KITH_EVT", "KITH_DLQ"):
        with contextlib.suppress(Exception):  # the stream may never have been created
            await js.delete_stream(f"{prefix}_{base}")
    await nc.close()


async def harness_fixture(
    database_url: str, nats_url: str, stream_prefix: str
) -> AsyncIterator[Harness]:
    """The body of a per-test `harness` fixture; its arguments are the kith plugin's fixtures.

    Yields a `Harness` on the test's stream prefix; afterwards stops every runtime the test
    appended to `runtimes` and drops the prefixed streams. A conftest makes it a fixture with
    `harness = pytest_asyncio.fixture(harness_fixture, loop_scope="session", name="harness")`,
    so test directories that cannot import each other still share one definition.
    """
    harness = Harness(database_url, nats_url, stream_prefix)
    yield harness
    for runtime in harness.runtimes:
        await runtime.stop()
    await drop_streams(nats_url, stream_prefix)


async def create_effects_table(harness: Harness) -> None:
    reader = Runtime(harness.settings(), "setup")
    async with reader.engine.begin() as conn:
        await conn.execute(text("CREATE SCHEMA IF NOT EXISTS kith_testing"))
        await conn.execute(text(EFFECTS_DDL))
    await reader.engine.dispose()


def scan_envelope(account: tuple[int, int], **kw: Any) -> Any:
    account_id, generation = account
    return build_envelope(
        DEDUP_SCAN,
        ScanDuplicates(account_id=account_id, trigger="api"),
        account_id=account_id,
        generation=kw.pop("generation", generation),
        **kw,
    )
