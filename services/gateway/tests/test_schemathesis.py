"""schemathesis against the committed OpenAPI document, driving the real gateway over HTTP
(real PostgreSQL and NATS): no 5xx, no response outside the documented schema.

Bounded for CI (`KITH_SCHEMATHESIS_EXAMPLES`, default 8 per operation). Left out: the endless
SSE stream (covered by tests/test_events_stream.py) and the deletions of users and tokens,
which could revoke the fuzzer's own credentials (covered by the route walk).

A second run puts text PostgreSQL cannot store (NUL, lone surrogates) into every operation's
query parameters and JSON body fields, with Hypothesis choosing where and around what
(`KITH_UNSTORABLE_EXAMPLES`, default 3 per operation; docs/reliability.md has the long run):
a 422 problem naming the field, never a 5xx.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
UNSTORABLE_EXAMPLES = int(os.environ.get("KITH_UNSTORABLE_EXAMPLES", "3"))

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


# --- text PostgreSQL cannot store, in every operation -------------------------------------------

CONTRACT = json.loads(DOC.read_text())
SKIPPED = {("GET", "/v1/events")}
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in CONTRACT["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
    and (method.upper(), path) not in SKIPPED
    and not (method == "delete" and re.match(r"^/v1/(users|tokens)/", path))
)
unstorable = st.builds(
    lambda before, bad, after: before + bad + after,
    st.text(max_size=6),
    st.sampled_from(["\x00", "\ud800", "\udfff"]),
    st.text(max_size=6),
)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = CONTRACT["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _body_fields(operation: dict[str, Any]) -> list[str]:
    """The JSON body's documented properties (or a made-up one: the guard reads any JSON)."""
    content = operation.get("requestBody", {}).get("content", {})
    schema = _resolve(content.get("application/json", {}).get("schema", {}))
    return sorted(schema.get("properties", {})) or ["name"]


def _query_fields(operation: dict[str, Any]) -> list[str]:
    return sorted(p["name"] for p in operation.get("parameters", []) if p["in"] == "query") or ["q"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=lambda value: str(value))
def test_unstorable_text_anywhere_in_any_operation_is_a_422_naming_the_field(
    method: str, path: str, gateway: ServerThread, http: requests.Session
) -> None:
    operation = CONTRACT["paths"][path][method.lower()]
    url = gateway.base_url + re.sub(r"\{[^}]+\}", "1", path)
    has_body = method in ("POST", "PUT", "PATCH")

    @given(
        value=unstorable,
        field=st.sampled_from(_body_fields(operation) if has_body else _query_fields(operation)),
        in_query=st.booleans() if has_body else st.just(True),
    )
    @settings(
        max_examples=UNSTORABLE_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    def check(value: str, field: str, in_query: bool) -> None:
        headers = _headers(gateway, path)
        if in_query:
            # Percent-encoded as the bytes a client would send; a lone surrogate becomes bytes
            # that are not UTF-8 at all, which the server reads as U+FFFD: storable, no 422.
            query = requests.utils.quote(value.encode("utf-8", "surrogatepass"), safe="")
            response = http.request(method, f"{url}?{field}={query}", headers=headers, timeout=30)
            if "\x00" not in value:
                assert response.status_code < 500, response.text
                return
        else:
            body = json.dumps({field: value})  # ASCII: a lone surrogate travels as \\udXXX
            headers = {**headers, "Content-Type": "application/json"}
            response = http.request(method, url, data=body, headers=headers, timeout=30)
        assert response.status_code == 422, (method, path, field, value, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == field

    check()
