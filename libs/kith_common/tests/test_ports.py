"""Ports handed to child processes must not collide with outgoing connections."""

from __future__ import annotations

import socket

import pytest

from kith_common import ports
from kith_common.ports import free_port


def test_ports_come_from_below_the_ephemeral_range_and_are_bindable_everywhere() -> None:
    handed = [free_port() for _ in range(50)]
    assert len(set(handed)) == 50
    assert all(port < ports._ephemeral_start() for port in handed)
    for port in handed[:5]:
        with socket.socket() as sock:
            sock.bind(("0.0.0.0", port))


def test_a_port_someone_listens_on_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        picks = iter([taken, taken, taken + 1 if taken + 1 < 65535 else taken - 1])
        monkeypatch.setattr(ports.random, "randrange", lambda _lo, _hi: next(picks))
        monkeypatch.setattr(ports, "_ephemeral_start", lambda: 65535)
        assert free_port() != taken
