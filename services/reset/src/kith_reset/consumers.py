"""The reset's durables (reset.md §3, §7): one per domain, the orchestrator, fan-in and DLQ.

Reset consumers wait 60 s for an ack, try 6 times, and nack with delays of 5, 15, 30, 60 and
120 s (never a bare nak); `Tuning` carries those numbers so tests can shorten them.
"""

from __future__ import annotations

from kith_common.bus.consumers import ConsumerSpec
from kith_common.events.subjects import (
    ACCOUNT_RESET,
    ACCOUNT_RESET_DOMAIN_DONE,
    DLQ_ALL,
    STREAM_CMD,
    STREAM_DLQ,
    STREAM_EVT,
)
from kith_reset.domains import Domain
from kith_reset.tuning import Tuning

# Resets of different accounts run fully in parallel (reset.md §4.7): one account's import
# wait or large domain must not hold up another's, so long consumers take a few at once.
# Two deliveries for one reset and domain still serialize on the domain row lock. Cleanup
# takes fewer: twelve durables share the process's connection pool, one connection per batch.
ORCHESTRATOR_CONCURRENCY = 4
CLEANUP_CONCURRENCY = 2
ORCHESTRATOR = "reset-orchestrator"
FANIN = "reset-fanin"
DLQ = "reset-dlq"


def _spec(durable: str, subject: str, stream: str, tuning: Tuning, **kw: object) -> ConsumerSpec:
    return ConsumerSpec(
        durable=durable,
        subject=subject,
        stream=stream,
        max_deliver=tuning.max_deliver,
        ack_wait=tuning.ack_wait,
        nack_delays=tuning.nack_delays,
        **kw,  # type: ignore[arg-type]
    )


def orchestrator(tuning: Tuning) -> ConsumerSpec:
    return _spec(
        ORCHESTRATOR,
        ACCOUNT_RESET,
        STREAM_CMD,
        tuning,
        long_running=True,
        concurrency=ORCHESTRATOR_CONCURRENCY,
        description="Stops the account's imports, then starts the storage stage.",
    )


def cleanup(domain: Domain, tuning: Tuning) -> ConsumerSpec:
    return _spec(
        domain.durable,
        domain.subject,
        STREAM_EVT,
        tuning,
        long_running=True,
        concurrency=CLEANUP_CONCURRENCY,
        description=f"Deletes the {domain.name} domain of a reset account in batches.",
    )


def fanin(tuning: Tuning) -> ConsumerSpec:
    return _spec(
        FANIN,
        ACCOUNT_RESET_DOMAIN_DONE,
        STREAM_EVT,
        tuning,
        description="Moves a reset to its next stage when a stage's domains are done.",
    )


def dead_letters(tuning: Tuning) -> ConsumerSpec:
    return _spec(
        DLQ,
        DLQ_ALL,
        STREAM_DLQ,
        tuning,
        description="Fails the reset a reset consumer's dead letter belongs to.",
    )
