"""The dedup service's durable consumers (ARCHITECTURE §10; CONVENTIONS §5 names)."""

from __future__ import annotations

from kith_common.bus.consumers import ConsumerSpec
from kith_common.events.subjects import (
    CONTACT_CHANGES,
    CONTACTS_MERGE,
    DEDUP_SCAN,
    IMPORT_COMPLETED,
    PHONES_RENORMALIZE,
    STREAM_CMD,
    STREAM_EVT,
)

__all__ = ["CONTACT_SCAN", "IMPORT_SCAN", "MERGE", "RENORMALIZE", "SCAN"]

# Scans and the backfill are long: they open their own fenced transactions, and the wrapper
# keeps the message alive with in_progress acks (also while waiting for the account's lock).
SCAN = ConsumerSpec(
    durable="dedup-scan",
    subject=DEDUP_SCAN,
    stream=STREAM_CMD,
    max_deliver=5,
    ack_wait=60.0,
    nack_delays=(5.0, 30.0, 120.0, 600.0),
    long_running=True,
    description="Full duplicate scan of one account (dedup.md §3.5).",
)
IMPORT_SCAN = ConsumerSpec(
    durable="dedup-import-scan",
    subject=IMPORT_COMPLETED,
    stream=STREAM_EVT,
    max_deliver=5,
    ack_wait=60.0,
    nack_delays=(5.0, 30.0, 120.0, 600.0),
    long_running=True,
    description="Incremental duplicate scan of the contacts an import wrote.",
)
CONTACT_SCAN = ConsumerSpec(
    durable="dedup-contact-scan",
    subject=CONTACT_CHANGES,
    stream=STREAM_EVT,
    max_deliver=5,
    ack_wait=30.0,
    nack_delays=(1.0, 5.0, 30.0, 120.0),
    long_running=True,
    description="Record contacts changed through the API for a coalesced incremental scan.",
)
MERGE = ConsumerSpec(
    durable="dedup-merge",
    subject=CONTACTS_MERGE,
    stream=STREAM_CMD,
    max_deliver=5,
    ack_wait=30.0,
    # Deadlocks, serialization and unique violations: rollback and retry soon (§5.1).
    nack_delays=(0.5, 2.0, 10.0, 30.0),
    description="Merge two contacts (dedup.md §5).",
)
RENORMALIZE = ConsumerSpec(
    durable="dedup-renormalize",
    subject=PHONES_RENORMALIZE,
    stream=STREAM_CMD,
    max_deliver=5,
    ack_wait=60.0,
    nack_delays=(5.0, 30.0, 120.0, 600.0),
    long_running=True,
    description="Phone and match-key backfill of one account (dedup.md §6.6).",
)
