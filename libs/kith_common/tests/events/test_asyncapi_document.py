"""The committed AsyncAPI document equals what the models render, and hangs together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kith_common.events.asyncapi import render_asyncapi
from kith_common.events.registry import SUBJECTS

REPO = Path(__file__).resolve().parents[4]
COMMITTED = REPO / "docs" / "asyncapi.yaml"
REGENERATE = ".venv/bin/python -m kith_common.events.asyncapi > docs/asyncapi.yaml"


def document() -> dict[str, Any]:
    loaded = yaml.safe_load(render_asyncapi())
    assert isinstance(loaded, dict)
    return loaded


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in refs(item)]
    return []


def test_committed_document_matches_the_models() -> None:
    assert COMMITTED.is_file(), f"docs/asyncapi.yaml is missing; run `{REGENERATE}`"
    committed = COMMITTED.read_text(encoding="utf-8")
    assert committed == render_asyncapi(), (
        f"docs/asyncapi.yaml is out of date with kith_common.events; regenerate it with "
        f"`{REGENERATE}` (from the repository root) and commit it"
    )


def test_rendering_is_deterministic() -> None:
    assert render_asyncapi() == render_asyncapi()


def test_document_is_asyncapi_3_with_one_channel_per_subject() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "Kith events"
    assert doc["servers"]["nats"]["protocol"] == "nats"
    addresses = {channel["address"] for channel in doc["channels"].values()}
    expected = {subject for subject in SUBJECTS if not subject.startswith("kith.dlq.")}
    assert expected | {"kith.dlq.{durable}"} <= addresses


def test_channel_descriptions_name_stream_and_kind() -> None:
    doc = document()
    for subject, spec in SUBJECTS.items():
        channel = doc["channels"]["kith.dlq" if spec.kind == "dlq" else subject]
        assert f"kind: {spec.kind}" in channel["description"]
        if spec.stream:
            assert f"`{spec.stream}`" in channel["description"]
        assert channel["x-kith-stream"] == spec.stream


def test_every_message_carries_the_typed_envelope() -> None:
    doc = document()
    for spec in SUBJECTS.values():
        message = doc["components"]["messages"][spec.payload.__name__]
        envelope = resolve(doc, message["payload"]["$ref"])
        assert set(envelope["required"]) >= {"id", "type", "occurred_at", "generation", "data"}
        assert envelope["properties"]["data"] == {
            "$ref": f"#/components/schemas/{spec.payload.__name__}"
        }
        assert message["correlationId"]["location"] == "$message.payload#/correlation_id"


def test_every_reference_resolves() -> None:
    doc = document()
    for ref in refs(doc):
        resolve(doc, ref)


def test_message_examples_match_their_schemas() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    doc = document()
    messages = doc["components"]["messages"]
    assert len(messages) == len(SUBJECTS) + 1  # + the check_connection reply
    for name, message in messages.items():
        schema = {"$ref": message["payload"]["$ref"], "components": doc["components"]}
        for example in message["examples"]:
            errors = list(jsonschema.Draft202012Validator(schema).iter_errors(example["payload"]))
            assert errors == [], f"{name}: {errors[0].message if errors else ''}"
