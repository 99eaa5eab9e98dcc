"""The importer's durables (ARCHITECTURE §10) and its request/reply queue group."""

from __future__ import annotations

from kith_common.bus.consumers import ConsumerSpec
from kith_common.events import subjects
from kith_common.events.subjects import DLQ_ALL, STREAM_CMD, STREAM_DLQ, STREAM_EVT

__all__ = ["CHECK_QUEUE", "IMPORT_CANCEL", "IMPORT_DLQ", "IMPORT_MISC", "IMPORT_START"]

# A crawl runs for minutes to hours: in-progress acks keep it alive, and the checkpoint makes
# a redelivery (crash, restart) resume. Delays grow so a Monica outage is not hammered.
IMPORT_START = ConsumerSpec(
    durable="importer-start",
    subject=subjects.IMPORT_START,
    stream=STREAM_CMD,
    max_deliver=8,  # overridden from ImporterConfig in build_app
    # In-progress acks every ack_wait / 3 keep a live crawl's message; a killed worker's
    # message comes back after 10 s and the lease decides who resumes it.
    ack_wait=10.0,
    nack_delays=(5.0, 15.0, 60.0, 120.0, 300.0),
    long_running=True,
    concurrency=4,
    description="Runs or resumes one import's crawl (importer.md §7).",
)
IMPORT_CANCEL = ConsumerSpec(
    durable="importer-cancel",
    subject=subjects.IMPORT_CANCEL,
    stream=STREAM_CMD,
    max_deliver=5,
    description="Wakes a crawl of this process waiting on the rate limiter (importer.md §10).",
)
# The misc-data phase pages ten account-wide lists behind the shared rate limit: long work,
# checkpointed per page, so a redelivery resumes (importer.md §8).
IMPORT_MISC = ConsumerSpec(
    durable="importer-misc",
    subject=subjects.IMPORT_COMPLETED,
    stream=STREAM_EVT,
    max_deliver=8,
    # As for the crawl: in-progress acks keep a live phase's message, a killed worker's
    # comes back after 10 s and the phase's advisory lock lets the redelivery take over.
    ack_wait=10.0,
    nack_delays=(5.0, 15.0, 60.0, 120.0, 300.0),
    long_running=True,
    concurrency=2,
    description="Misc-data phase (pets, calls, ...) of a completed import (importer.md §8).",
)
# importer.md §10: a start or misc command that exhausted its deliveries fails its import at
# once instead of staying `processing` until the 30-minute sweep. Every letter passes by; the
# importer's own are acted on (as reset-dlq does for the reset's).
IMPORT_DLQ = ConsumerSpec(
    durable="importer-dlq",
    subject=DLQ_ALL,
    stream=STREAM_DLQ,
    max_deliver=5,
    description="Fails the import whose start or misc command was dead-lettered.",
)
CHECK_QUEUE = "importer-check-connection"
