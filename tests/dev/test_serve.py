"""`kith serve <service>`: each service starts, is ready, has metrics, exits 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from kith_common.cli.main import service_names
from kith_common.ports import free_port

SERVICES = ["dedup", "gateway", "importer", "photos", "reset"]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError:
        return 0, ""


def test_all_five_services_are_installed_entry_points() -> None:
    assert service_names() == SERVICES


def test_serve_refuses_the_development_secret(database_url: str, nats_url: str) -> None:
    env = dict(os.environ, KITH_DATABASE_URL=database_url, KITH_NATS_URL=nats_url)
    env.pop("KITH_SECRET_KEY", None)
    done = subprocess.run(
        [sys.executable, "-m", "kith_common.cli.main", "serve", "dedup"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "KITH_SECRET_KEY" in done.stderr


@pytest.mark.parametrize("service", SERVICES)
async def test_service_is_ready_serves_metrics_and_exits_cleanly_on_sigterm(
    service: str, database_url: str, nats_url: str, stream_prefix: str
) -> None:
    metrics_port, gateway_port = free_port(), free_port()
    env = dict(
        os.environ,
        KITH_DATABASE_URL=database_url,
        KITH_NATS_URL=nats_url,
        KITH_STREAM_PREFIX=stream_prefix,
        KITH_METRICS_PORT=str(metrics_port),
        KITH_GATEWAY_PORT=str(gateway_port),
        KITH_SECRET_KEY="test-secret-key-that-is-long-enough-0123456789",
        KITH_SHUTDOWN_GRACE_SECONDS="3",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kith_common.cli.main", "serve", service, env=env
    )
    base = f"http://127.0.0.1:{metrics_port}"
    try:
        for _ in range(300):
            if _get(base + "/readyz")[0] == 200:
                break
            assert proc.returncode is None, f"{service} exited early"
            await asyncio.sleep(0.1)
        status, body = _get(base + "/readyz")
        assert status == 200, body
        assert _get(base + "/healthz")[0] == 200
        status, metrics = _get(base + "/metrics")
        assert status == 200
        assert "kith_outbox_published_total" in metrics
        if service == "gateway":
            assert _get(f"http://127.0.0.1:{gateway_port}/healthz")[0] == 200
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
