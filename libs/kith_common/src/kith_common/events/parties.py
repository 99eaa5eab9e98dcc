"""Who publishes and who consumes each subject, read from the registry's declarations.

The registry's `producers` and `consumers` are written for people (the AsyncAPI document shows
them), in one strict form: `<service>`, `<service>-<role>` (a durable) or a `kith ...` CLI
command, optionally followed by ` (note)`. This module reads the service out of each, so the
NATS permissions (`bus.permissions`) come from the very declarations the contract documents;
a declaration in another form raises instead of being skipped, so it cannot silently grant or
withhold a permission.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Final

from kith_common.events.registry import SUBJECTS, SubjectSpec

__all__ = [
    "SERVICES",
    "UndeclaredPartyError",
    "consumed_by",
    "produced_by",
    "publishes",
    "service_of",
]

SERVICES: Final = ("gateway", "importer", "dedup", "photos", "reset")
"""The services (`kith serve <name>`, entry points `kith.services`); each has a NATS user."""

_PARTY = re.compile(r"^(?P<name>[a-z][a-z0-9-]*)(?: (?P<rest>.*))?$")


class UndeclaredPartyError(ValueError):
    """A producer or consumer declaration that names no service, durable or CLI command."""


def service_of(party: str) -> str | None:
    """The service a declaration names; None for a `kith ...` CLI command (no NATS user).

    Raises:
        UndeclaredPartyError: The declaration is in none of the accepted forms.
    """
    match = _PARTY.match(party)
    name = match["name"] if match else ""
    if name == "kith":
        return None  # the CLI writes to the outbox; a service's relay publishes it
    service = name.split("-", 1)[0]
    rest = (match["rest"] or "") if match else ""
    if service in SERVICES and (not rest or (rest.startswith("(") and rest.endswith(")"))):
        return service
    msg = (
        f"{party!r}: a producer or consumer is `<service>`, `<service>-<role>` or `kith ...`, "
        f"optionally followed by ` (note)`; services: {', '.join(SERVICES)}"
    )
    raise UndeclaredPartyError(msg)


def _services(parties: Iterable[str]) -> frozenset[str]:
    return frozenset(s for s in map(service_of, parties) if s is not None)


def produced_by(spec: SubjectSpec) -> frozenset[str]:
    """The services that publish `spec`'s subject (dead letters: see `bus.permissions`)."""
    return frozenset() if spec.kind == "dlq" else _services(spec.producers)


def consumed_by(spec: SubjectSpec) -> frozenset[str]:
    """The services that read `spec`'s subject."""
    return _services(spec.consumers)


@cache
def publishes(service: str) -> frozenset[str]:
    """Every subject (unprefixed) `service` is declared to publish, requests included."""
    return frozenset(spec.subject for spec in SUBJECTS.values() if service in produced_by(spec))
