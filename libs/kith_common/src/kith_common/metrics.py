"""The one Prometheus registry and the metrics every service shares (ARCHITECTURE §7).

Names follow `kith_<subsystem>_<thing>_<unit>`; labels are bounded (consumer, outcome, route
template, status), never an id. Service-specific metrics are declared in the service against
`REGISTRY`.

A custom registry does not get prometheus_client's default collectors, so the process
(`process_resident_memory_bytes`, CPU, open fds), garbage collector (`python_gc_*`) and
platform (`python_info`) collectors are registered on it here: the dashboard's memory and GC
panels and the restart-loop alert read them.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

MESSAGES_HANDLED = Counter(
    "kith_bus_messages_handled_total",
    "Messages a consumer finished, by outcome (ok, duplicate, stale, retried, dead_lettered).",
    ["consumer", "outcome"],
    registry=REGISTRY,
)
HANDLER_SECONDS = Histogram(
    "kith_bus_handler_duration_seconds",
    "Time spent in a handler, including its transaction.",
    ["consumer"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
OUTBOX_PUBLISHED = Counter(
    "kith_outbox_published_total",
    "Outbox rows the relay published to NATS.",
    registry=REGISTRY,
)
OUTBOX_FAILURES = Counter(
    "kith_outbox_publish_failures_total",
    "Outbox publish attempts that failed and will be retried.",
    registry=REGISTRY,
)
OUTBOX_BACKLOG = Gauge(
    "kith_outbox_backlog_messages",
    "Unsent outbox rows seen by the relay at its last pass.",
    registry=REGISTRY,
)
OUTBOX_OLDEST_AGE = Gauge(
    "kith_outbox_oldest_age_seconds",
    "Age of the oldest unsent outbox row at the relay's last pass.",
    registry=REGISTRY,
)
DLQ_MESSAGES = Counter(
    "kith_bus_dead_lettered_total",
    "Messages copied to KITH_DLQ after max_deliver or a permanent error.",
    ["consumer"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "kith_http_request_duration_seconds",
    "HTTP request latency by route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)


def render_latest() -> tuple[bytes, str]:
    """The exposition body and its content type, for `/metrics`."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
