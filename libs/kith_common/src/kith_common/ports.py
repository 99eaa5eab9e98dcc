"""Free TCP ports for processes that are told their port before they bind it.

Asking the kernel for port 0 and releasing it hands out a port from the *ephemeral* range,
the same range the kernel draws from for every outgoing connection. Between the release and
the child's bind, a client connection to PostgreSQL or NATS may take that port, and the child
fails with "address already in use". Ports are therefore drawn at random from below the
ephemeral range, where the kernel never assigns anything on its own, and checked bindable on
every interface (the gateway binds 0.0.0.0).
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 20000
_DEFAULT_EPHEMERAL_START = 32768
_ATTEMPTS = 200
_handed_out: set[int] = set()


def _ephemeral_start() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_START


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))  # noqa: S104 - probing the wildcard on purpose
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nobody listens on now, outside the ephemeral range, never handed out twice here.

    Falls back to a kernel-chosen port when the range below the ephemeral one is too small or
    full, so a machine with an unusual configuration still gets a port.
    """
    high = _ephemeral_start()
    if high - _LOWEST >= 1000:
        for _ in range(_ATTEMPTS):
            port = random.randrange(_LOWEST, high)
            if port not in _handed_out and _bindable(port):
                _handed_out.add(port)
                return port
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port
