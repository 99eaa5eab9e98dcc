"""KEDA ScaledObjects against deploy/durables.yaml, the one list of worker durables."""

from __future__ import annotations

from typing import Any

import pytest

from . import validate


def test_durables_file_is_consistent_with_the_services(
    durables: dict[str, Any], contract: validate.Contract
) -> None:
    assert validate.durables_errors(durables, contract) == []


def test_scaled_objects_trigger_on_exactly_each_workers_durables(
    rendered: dict[str, Any], durables: dict[str, Any]
) -> None:
    assert validate.keda_errors(rendered["prod"], durables) == []


def test_reset_dlq_reads_the_dead_letter_stream(durables: dict[str, Any]) -> None:
    streams = {e["durable"]: e["stream"] for e in durables["reset"]}
    assert streams["reset-dlq"] == "KITH_DLQ"
    assert streams["reset-orchestrator"] == "KITH_CMD"


@pytest.mark.parametrize("service", ["importer", "dedup", "photos", "reset"])
def test_durables_file_matches_the_services_consumer_registry(
    durables: dict[str, Any], service: str
) -> None:
    declared = validate.code_durables(service)
    assert {e["durable"] for e in durables[service]} == declared
