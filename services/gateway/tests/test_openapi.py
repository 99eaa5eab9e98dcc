"""The committed docs/openapi.json is what the app serves, and clients can generate from it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from kith_gateway.openapi import render

DOC = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    assert DOC.read_text() == render(), (
        "docs/openapi.json is stale: run `python -m kith_gateway.openapi > docs/openapi.json`"
    )


async def test_served_openapi_has_every_v1_route(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()
    assert "/v1/duplicates" in served["paths"]
    assert not any(p.startswith(("/healthz", "/console")) for p in served["paths"])


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_every_ref_resolves_and_schema_names_are_plain() -> None:
    document = json.loads(DOC.read_text())
    for ref in _refs(document):
        assert ref.startswith("#/"), ref
        node = document
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]
    names = list(document["components"]["schemas"])
    assert [n for n in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)] == []
    start = document["paths"]["/v1/imports"]["post"]["requestBody"]["content"]
    assert start["application/json"]["schema"] == {"$ref": "#/components/schemas/MonicaImportIn"}
    assert start["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"


def test_a_client_generates_from_the_committed_document_without_warnings(
    tmp_path: Path,
) -> None:
    tools = Path(sys.executable).parent
    result = subprocess.run(  # our own venv's tool, fixed arguments
        [
            str(tools / "openapi-python-client"),
            "generate",
            "--path",
            str(DOC),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "client"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        # Its post-generation hook runs ruff, which lives beside it.
        env={**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    assert "error" not in output.lower(), output
    assert (tmp_path / "client" / "api" / "notes" / "list_notes.py").is_file()
