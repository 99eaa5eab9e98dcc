"""The client commands find a gateway started with default settings without being told."""

from __future__ import annotations

import argparse

import pytest

from kith_common.cli.api import client
from kith_common.settings import Settings


async def test_without_api_url_the_client_targets_the_gateways_default_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KITH_API_URL", raising=False)
    monkeypatch.delenv("KITH_GATEWAY_PORT", raising=False)
    args = argparse.Namespace(api_url=None, token="kith_token")
    async with client(args) as http:
        assert http.base_url.port == Settings().gateway_port
        assert http.base_url.host == "127.0.0.1"


def test_import_progress_shows_the_time_left_from_the_requests_left() -> None:
    from kith_common.progress import eta_text

    progress = {"requests_done": 120, "requests_estimated": 434, "eta_seconds": 342.5}
    assert eta_text(progress) == "about 6 min left (120 of 434 requests)"
    assert eta_text({"eta_seconds": 12.2}) == "about 12 s left"
    assert eta_text({"eta_seconds": 7200.0}) == "about 2.0 h left"
    assert eta_text({"eta_seconds": None, "requests_done": 3}) == ""  # limit off: no guess
