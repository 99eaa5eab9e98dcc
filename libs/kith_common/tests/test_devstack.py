"""Service discovery, embedded servers and the `kith` pytest plugin's fixtures and helpers."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from kith_common import devstack
from kith_common.ports import free_port
from kith_common.testing import eventually


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _tcp_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- probes ------------------------------------------------------------------------------------


def test_nothing_listening_is_unreachable() -> None:
    port = free_port()

    assert not devstack.nats_reachable(f"nats://127.0.0.1:{port}", timeout=1.0)
    assert not devstack.postgres_reachable(f"postgresql://postgres@127.0.0.1:{port}", timeout=1.0)


async def test_nats_without_jetstream_is_unreachable(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(devstack.nats_server_binary()), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await eventually(lambda: _tcp_open(port), what="plain nats-server listening")

        # Called from a running event loop on purpose: the sync probe must cope with that.
        assert not devstack.nats_reachable(f"nats://127.0.0.1:{port}", timeout=2.0)
    finally:
        proc.terminate()
        proc.wait(10)


def test_missing_database_still_counts_as_reachable_server(kith_postgres_server_url: str) -> None:
    url = make_url(kith_postgres_server_url).set(database="kith_no_such_database")

    assert devstack.postgres_reachable(url.render_as_string(hide_password=False))


# --- embedded servers --------------------------------------------------------------------------


def test_embedded_nats_serves_jetstream_and_stops_leaving_no_process(tmp_path: Path) -> None:
    server = devstack.EmbeddedNats(tmp_path).start()
    try:
        pid = server.pid
        url = server.url
        assert pid is not None
        assert devstack.nats_reachable(url)
        assert (tmp_path / "nats").is_dir()
    finally:
        server.stop()

    assert _alive([pid]) == []
    assert not devstack.nats_reachable(url, timeout=1.0)


def test_kith_devs_embedded_nats_requires_each_services_own_login(tmp_path: Path) -> None:
    """`kith dev` (resolve_stack with nats_accounts): the deployed accounts, not an open door."""
    nowhere = f"nats://127.0.0.1:{free_port()}"
    with devstack.nats_service(nowhere, tmp_path, accounts=True) as (url, server):
        assert server is not None
        assert server.accounts is not None
        user, password = server.accounts.login("importer")
        assert not devstack.nats_reachable(url, timeout=1.0)  # anonymous: refused
        assert devstack.nats_reachable(
            url.replace("nats://", f"nats://{user}:{password}@"),
            timeout=2.0,
            inbox_prefix="_INBOX_importer",
        )
        passwords = server.accounts.passwords
    assert (tmp_path / "nats-passwords.json").stat().st_mode & 0o077 == 0
    # A second run keeps the passwords (services started earlier still log in).
    assert devstack.write_nats_accounts(tmp_path).passwords == passwords


async def test_embedded_postgres_runs_unprivileged_with_extensions_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    home_mode = Path.home().stat().st_mode
    venv_mode = Path(sys.prefix).stat().st_mode

    server = devstack.EmbeddedPostgres(tmp_path, keep_data=False).start()
    try:
        assert server.pid is not None
        postmaster = psutil.Process(server.pid)
        pids = [server.pid, *(child.pid for child in postmaster.children(recursive=True))]
        if os.geteuid() == 0:
            assert postmaster.username() == devstack.PG_SYSTEM_USER
            assert server.data_dir.is_relative_to(devstack.SHARED_DIR)
        else:
            assert postmaster.uids().real == os.geteuid()
        conn = await asyncpg.connect(_dsn(server.url))
        try:
            assert await conn.fetchval("SELECT 1") == 1
            await conn.execute("CREATE EXTENSION pg_trgm")
            await conn.execute("CREATE EXTENSION citext")
            assert await conn.fetchval("SELECT similarity('kith', 'kith')") == 1.0
            assert await conn.fetchval("SELECT 'Émile'::citext = 'émile'::citext")
        finally:
            await conn.close()
    finally:
        server.stop()

    assert _alive(pids) == []
    assert not server.data_dir.exists()
    assert Path.home().stat().st_mode == home_mode
    assert Path(sys.prefix).stat().st_mode == venv_mode


# --- resolve_stack -----------------------------------------------------------------------------


async def test_resolve_stack_starts_embedded_servers_for_unreachable_urls_and_stops_them(
    tmp_path: Path,
) -> None:
    dead = free_port()

    with devstack.resolve_stack(
        f"postgresql://postgres@127.0.0.1:{dead}/kith_dev",
        f"nats://127.0.0.1:{dead}",
        tmp_path,
        keep_data=False,
    ) as stack:
        assert stack.started == ("postgres", "nats")
        assert stack.embedded_postgres is not None
        assert stack.embedded_nats is not None
        pids = [stack.embedded_postgres.pid, stack.embedded_nats.pid]
        assert devstack.nats_reachable(stack.nats_url)
        conn = await asyncpg.connect(_dsn(stack.database_url))
        try:
            assert await conn.fetchval("SELECT current_database()") == "kith_dev"
        finally:
            await conn.close()

    assert _alive([pid for pid in pids if pid is not None]) == []


def test_resolve_stack_uses_reachable_servers_and_starts_nothing(
    tmp_path: Path,
    nats_url: str,
    kith_postgres_server_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(self: object) -> None:
        raise AssertionError("nothing should be started")

    monkeypatch.setattr(devstack.EmbeddedNats, "start", refuse)
    monkeypatch.setattr(devstack.EmbeddedPostgres, "start", refuse)

    with devstack.resolve_stack(
        kith_postgres_server_url, nats_url, tmp_path, create_database=False
    ) as stack:
        assert stack.started == ()
        assert stack.nats_url == nats_url
        assert stack.database_url == kith_postgres_server_url


def test_resolve_stack_stops_only_what_it_started_on_keyboard_interrupt(
    tmp_path: Path, kith_postgres_server_url: str
) -> None:
    started: list[int | None] = []

    def interrupted_session() -> None:
        with devstack.resolve_stack(
            kith_postgres_server_url,
            f"nats://127.0.0.1:{free_port()}",
            tmp_path,
            create_database=False,
        ) as stack:
            assert stack.started == ("nats",)
            assert stack.embedded_nats is not None
            started.append(stack.embedded_nats.pid)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_session()

    assert started
    assert started[0] is not None
    assert _alive([started[0]]) == []
    assert devstack.postgres_reachable(kith_postgres_server_url)


# --- plugin fixtures ---------------------------------------------------------------------------


async def test_database_url_is_a_fresh_session_database(database_url: str, engine: AsyncEngine):
    assert re.fullmatch(r"kith_test_[0-9a-f]{8}", make_url(database_url).database or "")
    async with engine.connect() as conn:
        name = await conn.scalar(text("SELECT current_database()"))
    assert name == make_url(database_url).database


_seen_prefixes: set[str] = set()


@pytest.mark.parametrize("run", [1, 2])
def test_stream_prefix_is_alphanumeric_and_unique_per_test(stream_prefix: str, run: int) -> None:
    assert re.fullmatch(r"[A-Za-z0-9]+", stream_prefix)
    assert stream_prefix not in _seen_prefixes
    _seen_prefixes.add(stream_prefix)


# --- eventually --------------------------------------------------------------------------------


async def test_eventually_returns_the_first_truthy_value_of_an_async_predicate() -> None:
    calls = 0

    async def merged() -> str | None:
        nonlocal calls
        calls += 1
        return "merged" if calls >= 3 else None

    assert await eventually(merged, timeout=5, interval=0.01) == "merged"
    assert calls == 3


async def test_eventually_treats_a_failing_assertion_as_not_yet() -> None:
    state = {"count": 0}

    def counted() -> bool:
        state["count"] += 1
        assert state["count"] >= 2, "not yet"
        return True

    assert await eventually(counted, timeout=5, interval=0.01) is True


async def test_eventually_timeout_names_the_condition_and_the_last_result() -> None:
    pattern = (
        r"eventually: contact merged was not true after 0\.2s \(\d+ attempts\); last result: 0"
    )

    with pytest.raises(AssertionError, match=pattern):
        await eventually(lambda: 0, timeout=0.2, interval=0.01, what="contact merged")


async def test_eventually_timeout_reports_the_last_assertion() -> None:
    def never() -> bool:
        raise AssertionError("inbox row missing")

    with pytest.raises(AssertionError, match="last assertion: inbox row missing"):
        await eventually(never, timeout=0.1, interval=0.01)


async def test_eventually_propagates_unexpected_errors_at_once() -> None:
    async def broken() -> bool:
        raise ValueError("bad query")

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ValueError, match="bad query"):
        await eventually(broken, timeout=5)
    assert loop.time() - started < 1
