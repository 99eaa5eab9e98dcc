"""The committed docs/openapi.json is exactly what the app serves."""

from __future__ import annotations

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
