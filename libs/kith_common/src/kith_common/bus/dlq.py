"""Dead letters: copying a message that cannot be handled, with its failure, to KITH_DLQ.

The letter is published straight to JetStream (not through the outbox) and the original is
acked only after JetStream confirmed the letter, so a message is always either in its stream
or in the DLQ. The letter's id is derived from the consumer, the original's id and the stream
sequence of the delivery that gave up: a second attempt to dead-letter the same delivery (the
ack was lost) is dropped by the duplicate window, while a *replayed* message, a new stream
message with its own sequence, gets a letter of its own even inside that window. With the id
alone, a replay that failed again within two minutes would be dropped as a duplicate after the
replay had deleted the first letter: lost from both places.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from nats.js import JetStreamContext

from kith_common.bus.streams import StreamLayout
from kith_common.events.envelope import Envelope
from kith_common.events.payloads.dlq import DeadLetter
from kith_common.events.subjects import dlq_subject
from kith_common.logging import redact_text

_LETTER_NAMESPACE = uuid.UUID("0b7a4a3e-6f55-4a8e-9d3c-2f1f0c0d1e11")


def letter_id(
    original_id: uuid.UUID | None, consumer: str, body: bytes, stream_sequence: int | None
) -> uuid.UUID:
    """Stable id of the letter for (consumer, message, delivered stream message)."""
    seed = str(original_id) if original_id else body[:4096].hex()
    return uuid.uuid5(_LETTER_NAMESPACE, f"{consumer}:{seed}:{stream_sequence}")


def _original(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {"raw": body[:65536].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"raw": value}


class DeadLetterer:
    """Publishes letters for one deployment's stream layout."""

    def __init__(self, layout: StreamLayout, timeout: float = 5.0) -> None:
        self._js: JetStreamContext | None = None
        self._layout = layout
        self._timeout = timeout

    def bind(self, js: JetStreamContext) -> None:
        """Attach the JetStream context once the process is connected."""
        self._js = js

    async def send(
        self,
        *,
        consumer: str,
        subject: str,
        body: bytes,
        envelope: Envelope[Any] | None,
        error: BaseException,
        deliveries: int,
        stream_sequence: int | None = None,
    ) -> Envelope[DeadLetter]:
        letter = Envelope[DeadLetter](
            id=letter_id(envelope.id if envelope else None, consumer, body, stream_sequence),
            type="dlq." + consumer,
            account_id=envelope.account_id if envelope else None,
            generation=envelope.generation if envelope else None,
            correlation_id=envelope.correlation_id if envelope else None,
            data=DeadLetter(
                subject=subject,
                consumer=consumer,
                envelope=_original(body),
                stream_sequence=stream_sequence,
                error_type=type(error).__name__,
                error_message=redact_text(str(error))[:2000] or type(error).__name__,
                deliveries=max(1, deliveries),
                failed_at=dt.datetime.now(dt.UTC),
            ),
        )
        if self._js is None:
            msg = "dead letterer used before the bus connected"
            raise RuntimeError(msg)
        await self._js.publish(
            self._layout.subject(dlq_subject(consumer)),
            letter.model_dump_json().encode(),
            timeout=self._timeout,
            headers={"Nats-Msg-Id": str(letter.id)},
        )
        return letter
