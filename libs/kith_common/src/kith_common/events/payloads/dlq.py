"""The dead letter: a message that failed `max_deliver` times, with its failure (ARCHITECTURE §3).

A letter goes to `kith.dlq.<durable>` in an envelope whose `account_id`, `generation` and
`correlation_id` are the original's, so `reset-dlq` can fence it and the admin API can replay the
original envelope to its subject. Error text is redacted by the bus before it lands here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from kith_common.events.envelope import Payload

__all__ = ["DeadLetter"]


class DeadLetter(Payload):
    """One failed message and why it failed."""

    subject: str = Field(description="The subject the original message was published on.")
    consumer: str = Field(description="The durable consumer that gave up, e.g. `reset-notes`.")
    envelope: dict[str, Any] = Field(
        description="The original envelope as received (JSON object), replayed as is."
    )
    stream_sequence: int | None = Field(
        default=None, description="The original message's sequence in its stream, if known."
    )
    error_type: str = Field(description="The exception class, e.g. `Transient` or `TimeoutError`.")
    error_message: str = Field(description="The last error, redacted; never a secret.")
    deliveries: int = Field(ge=1, description="How many times the message was delivered.")
    failed_at: dt.datetime
