"""`kith dev --demo` (issue #9): the README's two-minute demo works end to end.

The stack comes up on the machine's PostgreSQL and NATS and prints a fake Monica's URL and
key; an import started through the gateway with exactly those two values finishes with
contacts in the account.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from kith_common.testing.bus import drop_streams

SERVICES = ("gateway", "importer", "dedup", "photos", "reset")


def _port_block(size: int) -> int:
    for base in range(21000, 60000, 89):
        sockets = []
        try:
            for offset in range(size):
                sock = socket.socket()
                sock.bind(("127.0.0.1", base + offset))
                sockets.append(sock)
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    raise RuntimeError("no free port block")


def _call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # local URL
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:  # local URL
        return json.loads(response.read() or b"null")


@pytest.mark.slow
def test_kith_dev_demo_serves_a_fake_monica_that_imports(
    tmp_path: Path, database_url: str, nats_url: str, stream_prefix: str
) -> None:
    base = _port_block(len(SERVICES) + 1)
    env = dict(
        os.environ,
        KITH_DATABASE_URL=database_url,
        KITH_NATS_URL=nats_url,
        KITH_STREAM_PREFIX=stream_prefix,
        KITH_GATEWAY_PORT=str(base),
        KITH_METRICS_PORT=str(base + 1),
        KITH_SHUTDOWN_GRACE_SECONDS="3",
    )
    log_path = tmp_path / "dev.log"
    log = log_path.open("w+")
    dev = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kith_common.cli.main",
            "dev",
            "--demo",
            "--state-dir",
            str(tmp_path),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while "Demo Monica" not in log_path.read_text():
            assert dev.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "kith dev --demo never came up"
            time.sleep(0.5)
        output = log_path.read_text()
        token = re.search(r"Admin token  (kith_\S+)", output)
        demo = re.search(r"Demo Monica  (\S+)  API key (\S+)", output)
        fake = re.search(r"(\d+) fake contacts", output)
        assert token, output
        assert demo, output
        assert fake, output
        contacts, monica_url, api_key = int(fake[1]), demo[1], demo[2]
        assert contacts >= 200
        gateway = f"http://127.0.0.1:{base}/v1"
        started = _call(
            "POST", f"{gateway}/imports", token[1], {"api_url": monica_url, "api_key": api_key}
        )
        import_id = started["id"]
        deadline = time.monotonic() + 240
        while (state := _call("GET", f"{gateway}/imports/{import_id}", token[1]))["status"] not in (
            "completed",
            "failed",
            "cancelled",
        ):
            assert time.monotonic() < deadline, state
            assert dev.poll() is None, log_path.read_text()[-3000:]
            time.sleep(1)
        assert state["status"] == "completed", state
        page = _call("GET", f"{gateway}/contacts?limit=1", token[1])
        assert page["data"], page
        dev.send_signal(signal.SIGINT)
        assert dev.wait(timeout=60) == 0
    finally:
        if dev.poll() is None:  # a failed assertion: stop the services too, not only kith dev
            dev.send_signal(signal.SIGINT)
            try:
                dev.wait(timeout=60)
            except subprocess.TimeoutExpired:
                dev.kill()
                dev.wait()
        log.close()
        asyncio.run(drop_streams(nats_url, stream_prefix))
