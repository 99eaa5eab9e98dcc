"""FastStream's own log lines go through the service's JSON pipeline, not to stdout."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from kith_common.testing.bus import Harness


async def test_a_started_brokers_warnings_are_json_lines_and_its_chatter_is_dropped(
    harness: Harness,
    envelope_for: Any,
    json_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime = harness.runtime("logs")
    runtime.consume(harness.spec("log-worker"), type(envelope_for().data))(
        harness.recording_handler("logs")
    )
    await runtime.start()
    broker_log = runtime.broker.config.logger
    broker_log.log("subscriber gave up", log_level=logging.WARNING)
    broker_log.log("callback for Task-7 is being executed...", log_level=logging.INFO)
    logging.getLogger("faststream").warning("faststream module warning")
    await runtime.stop()

    lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.strip()]
    events = {line["event"]: line for line in lines}
    assert events["subscriber gave up"]["service"] == "testsvc"
    assert events["subscriber gave up"]["level"] == "warning"
    assert "faststream module warning" in events
    assert not any("is being executed" in str(line["event"]) for line in lines)
    assert "subscriber gave up" not in capsys.readouterr().out
