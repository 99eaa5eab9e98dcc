"""Monica client metrics (ARCHITECTURE §7): requests by endpoint template and status, retries,
and the time spent waiting on the shared rate limiter. Labels are bounded: the endpoint is a
template (`/contacts/{id}`), never a concrete id; status is the HTTP code or an error class."""

from __future__ import annotations

from prometheus_client import Counter

from kith_common.metrics import REGISTRY

__all__ = ["RATE_LIMIT_WAIT", "REQUESTS", "RETRIES"]

REQUESTS = Counter(
    "kith_monica_requests_total",
    "Requests sent to Monica, by endpoint template and status (HTTP code or error class).",
    ["endpoint", "status"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "kith_monica_retries_total",
    "Monica requests retried after a transient failure, by endpoint template.",
    ["endpoint"],
    registry=REGISTRY,
)
RATE_LIMIT_WAIT = Counter(
    "kith_monica_rate_limit_wait_seconds_total",
    "Seconds spent waiting for a slot of the shared Monica rate limiter (or a 429's Retry-After).",
    registry=REGISTRY,
)
