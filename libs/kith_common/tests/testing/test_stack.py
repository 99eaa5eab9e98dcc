"""The process harness itself: a small stack starts, answers, survives a kill + restart, and
leaves no process behind when it stops (other suites build on these promises)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kith_common.testing import eventually
from kith_common.testing.bus import drop_streams
from kith_common.testing.stack import Stack, sample_sum

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); a reaped child does not exist any more.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


async def test_stack_serves_survives_a_kill_and_stops_clean(
    database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path
) -> None:
    stack = Stack(
        database_url,
        nats_url,
        stream_prefix,
        tmp_path,
        replicas={"gateway": 1, "importer": 1, "dedup": 0, "photos": 0, "reset": 0},
    )
    try:
        async with stack:
            pids = stack.pids()
            assert len(pids) == 2
            _, token = await stack.create_account()
            async with stack.api(token) as api:
                assert (await api.get("/v1/account")).status_code == 200
                assert (await api.get("/v1/imports")).status_code == 200
            samples = await stack.metrics("importer")
            assert any(s.name.startswith("kith_") for s in samples)
            assert sample_sum(samples, "no_such_metric") == 0
            # JSON logs land in the process's own file.
            lines = (tmp_path / "logs" / "importer-0.log").read_text().splitlines()
            assert any(json.loads(line).get("event") for line in lines if line.startswith("{"))

            killed = stack.process("importer").pid
            assert killed is not None
            stack.kill("importer")
            await eventually(lambda: not stack.process("importer").running, timeout=10)
            restarted = await stack.restart("importer", env={"KITH_LOG_LEVEL": "debug"})
            assert restarted.running
            assert restarted.pid != killed
            assert not _alive(killed)
            assert await stack.metrics("importer")  # the new process answers on its new port
            assert restarted.env["KITH_LOG_LEVEL"] == "debug"
            assert await stack.metric_total("importer", "kith_bus_messages_handled_total") == 0
            pids = stack.pids()
            assert len(pids) == 2

        assert stack.pids() == []
        for pid in pids:
            assert not _alive(pid), f"process {pid} survived the stack's shutdown"
        assert all(p.returncode() is not None for p in stack.processes.values())
    finally:
        await drop_streams(nats_url, stream_prefix)


async def test_a_process_that_cannot_start_fails_the_stack_and_leaves_nothing(
    database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path
) -> None:
    # A process that exits during startup (here: a setting it refuses) must fail the stack
    # loudly, with its log tail, instead of hanging until the readiness timeout.
    stack = Stack(
        database_url,
        nats_url,
        stream_prefix,
        tmp_path,
        replicas={"gateway": 0, "importer": 1, "dedup": 0, "photos": 0, "reset": 0},
        env={"KITH_LOG_FORMAT": "bogus"},
        ready_timeout=60,
    )
    with pytest.raises(RuntimeError, match="importer-0 exited"):
        async with stack:
            pass
    assert stack.pids() == []
    await drop_streams(nats_url, stream_prefix)
