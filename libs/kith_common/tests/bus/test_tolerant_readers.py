"""Tolerant readers (issue 19 §2): a newer producer's message is handled, never dead-lettered.

During a rolling upgrade the new producer adds an optional field and writes the next
`schema_version`; every consumer still on the old code must handle the message as before.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from nats.js import JetStreamContext
from pydantic import ValidationError

from kith_common.bus.consumers import ConsumerSpec
from kith_common.events.envelope import SCHEMA_VERSION
from kith_common.events.examples import REPLIES, example_envelope, publish_subject
from kith_common.events.payloads.imports import StartImport
from kith_common.events.registry import SUBJECTS, parse_envelope, parse_reply
from kith_common.testing import eventually
from kith_common.testing.bus import Harness


def _from_the_future(envelope: dict[str, Any], account: tuple[int, int]) -> dict[str, Any]:
    """The envelope as a newer producer writes it: next version, a field more everywhere."""
    future = dict(envelope, schema_version=SCHEMA_VERSION + 1, trace_parent="00-abc-01")
    future["data"] = dict(envelope["data"], added_in_next_version={"eta_seconds": 12})
    future["id"] = str(uuid.uuid4())
    future["account_id"], future["generation"] = account
    return future


async def test_every_message_type_from_a_newer_producer_is_handled_not_dead_lettered(
    harness: Harness, js: JetStreamContext, account: tuple[int, int]
) -> None:
    runtime = harness.runtime("old-consumer")
    sent: list[uuid.UUID] = []
    bodies: list[tuple[str, bytes]] = []
    streamed = [spec for spec in SUBJECTS.values() if spec.stream is not None]
    for number, spec in enumerate(sorted(streamed, key=lambda s: s.subject)):
        subject = publish_subject(spec.subject)
        consumer = ConsumerSpec(
            durable=f"old-reader-{number}", subject=subject, stream=spec.stream or ""
        )
        runtime.consume(consumer, spec.payload)(harness.recording_handler("old-consumer"))
        future = _from_the_future(example_envelope(spec.subject).model_dump(mode="json"), account)
        sent.append(uuid.UUID(future["id"]))
        bodies.append((subject, json.dumps(future).encode()))
    await runtime.start()
    for subject, body in bodies:
        await js.publish(f"{harness.prefix}.{subject}", body)

    async def all_handled() -> bool:
        return all([await harness.has_effect(message_id) for message_id in sent])

    await eventually(all_handled, timeout=30)
    dlq = await js.stream_info(f"{harness.prefix}_KITH_DLQ")
    # The only message there is the example dead letter published above, not a new letter.
    assert dlq.state.messages == 1


def test_the_request_and_its_reply_are_read_tolerantly() -> None:
    for subject, reply in REPLIES.items():
        request = _from_the_future(example_envelope(subject).model_dump(mode="json"), (7, 3))
        assert parse_envelope(subject, json.dumps(request)).data == example_envelope(subject).data
        answer = _from_the_future(
            example_envelope(subject, reply=True).model_dump(mode="json"), (7, 3)
        )
        assert parse_reply(subject, json.dumps(answer)).data == reply


def test_a_writer_still_refuses_an_unknown_field() -> None:
    with pytest.raises(ValidationError, match="extra"):
        StartImport(import_id=1, api_key="s3cret")  # type: ignore[call-arg]
