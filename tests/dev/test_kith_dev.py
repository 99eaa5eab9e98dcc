"""`kith dev` on a machine whose PostgreSQL and NATS it cannot see (issue #2 acceptance).

The settings point at closed ports, so `kith dev` must start embedded NATS and PostgreSQL,
bring all five services to a green `/readyz`, greet with a short box (console, API, token,
logs) rather than pages of log lines, restart a service that dies, and on Ctrl-C leave no
process behind.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

SERVICES = ("gateway", "importer", "dedup", "photos", "reset")


def _port_block(size: int) -> int:
    """A base port with `size` free consecutive ports after it."""
    for base in range(20000, 60000, 97):
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


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.slow
def test_kith_dev_starts_embedded_servers_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    base = _port_block(len(SERVICES) + 1)
    gateway_port, metrics_base = base, base + 1
    closed = _port_block(1)
    env = dict(
        os.environ,
        KITH_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed}/kith",
        KITH_NATS_URL=f"nats://127.0.0.1:{closed}",
        KITH_GATEWAY_PORT=str(gateway_port),
        KITH_METRICS_PORT=str(metrics_base),
        KITH_SHUTDOWN_GRACE_SECONDS="3",
    )
    log = (tmp_path / "dev.log").open("w+")
    dev = subprocess.Popen(
        [sys.executable, "-m", "kith_common.cli.main", "dev", "--state-dir", str(tmp_path / "s")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while "Kith is up" not in (tmp_path / "dev.log").read_text():
            assert dev.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "kith dev never came up"
            time.sleep(0.5)
        output = (tmp_path / "dev.log").read_text()
        assert f"Console      http://127.0.0.1:{gateway_port}/console" in output
        assert f"API          http://127.0.0.1:{gateway_port}/v1" in output
        assert re.search(r"Admin token  kith_\S+", output), output
        assert len(output.splitlines()) < 25, output  # a greeting, not the services' logs
        for offset in range(len(SERVICES)):
            assert _ready(metrics_base + offset), SERVICES[offset]
        assert _ready(gateway_port)
        logs = tmp_path / "s" / "logs"
        assert "service_started" in (logs / "importer.log").read_text()

        # A service that dies comes back by itself; the rest of the stack stays up.
        dedup = next(p for p in _descendants(dev.pid) if b"serve\0dedup" in _cmdline(p))
        os.kill(dedup, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while "kith dev: dedup restarted" not in (tmp_path / "dev.log").read_text():
            assert dev.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "dedup was not restarted"
            time.sleep(0.3)
        assert (
            "dedup stopped (exit code -9); restarting it in 1 s"
            in (tmp_path / "dev.log").read_text()
        )
        while not _ready(metrics_base + SERVICES.index("dedup")):
            assert time.monotonic() < deadline, "the restarted dedup never became ready"
            time.sleep(0.3)
        assert _ready(gateway_port)
        family = _descendants(dev.pid)
        commands = " ".join(Path(f"/proc/{p}/cmdline").read_text() for p in family if _alive(p))
        assert "nats-server" in commands
        assert "postgres" in commands
        dev.send_signal(signal.SIGINT)
        assert dev.wait(timeout=60) == 0
        reap_deadline = time.monotonic() + 5
        while (leftovers := [p for p in family if _alive(p)]) and time.monotonic() < reap_deadline:
            time.sleep(0.1)
        assert leftovers == [], leftovers
    finally:
        if dev.poll() is None:
            dev.kill()
        log.close()
