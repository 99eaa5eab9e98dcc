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
