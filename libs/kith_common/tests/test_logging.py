"""Logs are JSON with bound context, and secrets never reach them."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
import structlog

from kith_common.logging import configure_logging


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_log_lines_are_json_with_service_and_bound_context(
    json_logs: io.StringIO,
) -> None:
    log = structlog.get_logger("kith.test")
    with structlog.contextvars.bound_contextvars(account_id=7, import_id=3):
        log.info("import_started", pages=2)
    (line,) = _lines(json_logs)
    assert line["event"] == "import_started"
    assert line["service"] == "testsvc"
    assert line["account_id"] == 7
    assert line["import_id"] == 3
    assert line["level"] == "info"


def test_secret_fields_and_token_values_are_redacted(
    json_logs: io.StringIO,
) -> None:
    token = "kith_" + "A" * 40
    log = structlog.get_logger("kith.test")
    log.warning(
        "oops",
        api_key="monica-secret-key",
        headers={"Authorization": "Bearer abc.def"},
        detail=f"request failed with token {token}",
        url="postgresql://kith:hunter2@db/kith",
    )
    logging.getLogger("stdlib").error("stdlib says Bearer xyz123")
    output = json.dumps(_lines(json_logs))
    for secret in ("monica-secret-key", "abc.def", token, "hunter2", "xyz123"):
        assert secret not in output
    assert "[redacted]" in output


def test_logs_without_a_stream_follow_sys_stderr_when_it_is_swapped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A closed, replaced stderr (a test runner's capture) must not break later log lines."""
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging(service="testsvc", log_format="json", level="info")
    try:
        structlog.get_logger("kith.test").info("before_swap")
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        first.close()
        structlog.get_logger("kith.test").info("after_swap")
        (line,) = _lines(second)
    finally:
        logging.getLogger().handlers.clear()
    assert line["event"] == "after_swap"


def test_library_chatter_stays_out_of_info_logs(json_logs: io.StringIO) -> None:
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.schemas")
    logging.getLogger("httpx").info("HTTP Request: GET https://monica.example/api/contacts")
    logging.getLogger("httpx").warning("a warning still shows")
    logging.getLogger("kith.importer").info("import_completed")

    events = [json.loads(line)["event"] for line in json_logs.getvalue().splitlines()]
    assert events == ["a warning still shows", "import_completed"]
