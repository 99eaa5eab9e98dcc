"""The three JetStream streams, declared in code and created or updated on start.

KITH_CMD is a work queue (each command handled once, whatever the replica count), KITH_EVT
keeps every event for `KITH_EVENT_RETENTION_DAYS` so any number of durables (ours and other
systems') replay them, KITH_DLQ keeps dead letters until an operator replays or purges them.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from kith_common.events.subjects import (
    STREAM_CMD,
    STREAM_DLQ,
    STREAM_EVT,
    prefixed,
    stream_name,
)

DAY = 24 * 3600
# The window in which JetStream drops a second publish with the same Nats-Msg-Id. It must
# outlast the relay's worst redelivery gap (a crashed relay's rows are retaken at once).
DUPLICATE_WINDOW_SECONDS = 120.0
DLQ_RETENTION_DAYS = 30


@dataclass(frozen=True, slots=True)
class StreamLayout:
    """Names and subject filters of the streams for one (possibly test-prefixed) deployment."""

    prefix: str = ""

    @property
    def cmd(self) -> str:
        return stream_name(STREAM_CMD, self.prefix)

    @property
    def evt(self) -> str:
        return stream_name(STREAM_EVT, self.prefix)

    @property
    def dlq(self) -> str:
        return stream_name(STREAM_DLQ, self.prefix)

    def name_for(self, base: str) -> str:
        return stream_name(base, self.prefix)

    def subject(self, logical: str) -> str:
        return prefixed(logical, self.prefix)

    def configs(self, *, replicas: int, retention_days: int) -> list[StreamConfig]:
        common = {
            "storage": StorageType.FILE,
            "num_replicas": replicas,
            "duplicate_window": DUPLICATE_WINDOW_SECONDS,
            "discard": DiscardPolicy.OLD,
        }
        return [
            StreamConfig(
                name=self.cmd,
                subjects=[self.subject("kith.cmd.>")],
                retention=RetentionPolicy.WORK_QUEUE,
                **common,  # type: ignore[arg-type]
            ),
            StreamConfig(
                name=self.evt,
                subjects=[self.subject("kith.evt.>")],
                retention=RetentionPolicy.LIMITS,
                max_age=float(retention_days * DAY),
                **common,  # type: ignore[arg-type]
            ),
            StreamConfig(
                name=self.dlq,
                subjects=[self.subject("kith.dlq.>")],
                retention=RetentionPolicy.LIMITS,
                max_age=float(DLQ_RETENTION_DAYS * DAY),
                **common,  # type: ignore[arg-type]
            ),
        ]


async def ensure_streams(
    js: JetStreamContext, layout: StreamLayout, *, replicas: int, retention_days: int
) -> None:
    """Create each stream, or update it when it exists (a changed retention takes effect)."""
    for config in layout.configs(replicas=replicas, retention_days=retention_days):
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)
