"""The registry's producer and consumer declarations read as services (NATS permissions)."""

from __future__ import annotations

import pytest

from kith_common.events.parties import (
    SERVICES,
    UndeclaredPartyError,
    consumed_by,
    produced_by,
    publishes,
    service_of,
)
from kith_common.events.registry import SUBJECTS


def test_every_declaration_names_a_service_a_durable_or_the_cli() -> None:
    for spec in SUBJECTS.values():
        produced_by(spec)
        consumed_by(spec)


def test_every_command_and_event_has_a_service_whose_relay_may_publish_it() -> None:
    """A subject only the CLI produces would sit in the outbox under authentication."""
    for spec in SUBJECTS.values():
        if spec.kind in ("command", "event", "rpc"):
            assert produced_by(spec), spec.subject


@pytest.mark.parametrize(
    ("party", "service"),
    [
        ("gateway (POST /v1/imports)", "gateway"),
        ("reset-orchestrator (the imports cancel function)", "reset"),
        ("importer", "importer"),
        ("kith admin dedup-scan --all-accounts (CronJob)", None),
    ],
)
def test_a_declaration_names_its_service(party: str, service: str | None) -> None:
    assert service_of(party) == service


@pytest.mark.parametrize(
    "party", ["the importer's DLQ hook", "each reset cleanup consumer", "search-indexer", ""]
)
def test_a_declaration_in_another_form_is_refused_not_skipped(party: str) -> None:
    with pytest.raises(UndeclaredPartyError):
        service_of(party)


def test_a_service_publishes_only_what_it_is_declared_to() -> None:
    assert "kith.cmd.account.reset" in publishes("gateway")
    for service in set(SERVICES) - {"gateway"}:
        assert "kith.cmd.account.reset" not in publishes(service)
