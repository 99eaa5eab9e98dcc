"""schemathesis against the committed OpenAPI document, driving the real gateway over HTTP
(real PostgreSQL and NATS): no 5xx, no response outside the documented schema.

Bounded for CI (`KITH_SCHEMATHESIS_EXAMPLES`, default 8 per operation). Left out: the endless
SSE stream (covered by tests/test_events_stream.py) and the deletions of users and tokens,
which could revoke the fuzzer's own credentials (covered by the route walk).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from kith_common.settings import Settings
from kith_common.testing.bus import drop_streams
from kith_gateway.testing_server import ServerThread

DOC = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
EXAMPLES = int(os.environ.get("KITH_SCHEMATHESIS_EXAMPLES", "8"))

schema = schemathesis.openapi.from_path(DOC)
schema = schema.exclude(path="/v1/events").exclude(
    method="DELETE", path_regex=r"^/v1/(users|tokens)/"
)


@pytest.fixture(scope="module")
def gateway(settings_for_thread: Settings, nats_url: str) -> Iterator[ServerThread]:
    server = ServerThread(settings_for_thread).start()
    yield server
    server.stop()
    asyncio.run(drop_streams(nats_url, settings_for_thread.stream_prefix))


@pytest.fixture(scope="module")
def settings_for_thread(
    database_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        database_url=database_url,
        nats_url=nats_url,
        stream_prefix="st" + os.urandom(4).hex(),
        storage_url=f"file://{tmp_path_factory.mktemp('storage')}",
        metrics_port=0,
        log_format="console",
        log_level="warning",
        shutdown_grace_seconds=2,
    )


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _headers(gateway: ServerThread, path: str) -> dict[str, Any]:
    assert gateway.account is not None
    assert gateway.spare is not None
    if path.startswith("/v1/admin/"):
        return {"Authorization": f"Bearer {gateway.operator_token}"}
    if path == "/v1/account/reset":
        # A reset would answer every later write with 409; it gets an account of its own.
        return gateway.spare.headers("admin")
    return gateway.account.headers("admin")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_responses_match_the_schema(
    case: schemathesis.Case, gateway: ServerThread, http: requests.Session
) -> None:
    case.call_and_validate(
        base_url=gateway.base_url,
        session=http,
        headers=_headers(gateway, case.path),
        timeout=30,
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
