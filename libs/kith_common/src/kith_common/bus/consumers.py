"""Durable pull consumers: their declared settings, and create-or-update on start.

nats-py binds to an existing durable without looking at its settings, so a changed
`max_deliver` or `ack_wait` would be silently ignored; `ensure_consumer` writes the declared
config every start and verifies the server took it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from kith_common.bus.streams import StreamLayout


class ConsumerConfigMismatch(RuntimeError):
    """The server kept a consumer setting different from the declared one."""


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """One durable: what it reads and how failures are retried.

    `max_deliver` counts handler attempts; the server is given one more delivery so that a
    process that died during the last attempt still gets the message dead-lettered instead
    of silently dropped.
    """

    durable: str
    subject: str
    stream: str
    max_deliver: int = 5
    ack_wait: float = 30.0
    nack_delays: tuple[float, ...] = (1.0, 5.0, 15.0, 60.0)
    max_ack_pending: int = 256
    concurrency: int = 1
    # Long handlers manage their own transactions (checkpoints); see bus.subscribe.
    long_running: bool = False
    description: str = field(default="", compare=False)

    def nack_delay(self, deliveries: int) -> float:
        """The delay before attempt `deliveries + 1`."""
        index = max(0, min(deliveries - 1, len(self.nack_delays) - 1))
        return self.nack_delays[index]

    def server_config(self, layout: StreamLayout) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            filter_subject=layout.subject(self.subject),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=self.max_deliver + 1,
            ack_wait=self.ack_wait,
            max_ack_pending=self.max_ack_pending,
            description=self.description or None,
        )


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec, layout: StreamLayout) -> None:
    """Create the durable or update it in place; raise if the server kept other settings."""
    config = spec.server_config(layout)
    stream = layout.name_for(spec.stream)
    info = await js.add_consumer(stream, config)
    kept = info.config
    if kept.max_deliver != config.max_deliver or abs((kept.ack_wait or 0) - spec.ack_wait) > 1e-3:
        msg = (
            f"consumer {spec.durable}: server kept max_deliver={kept.max_deliver} "
            f"ack_wait={kept.ack_wait}, declared {config.max_deliver}/{spec.ack_wait}"
        )
        raise ConsumerConfigMismatch(msg)
