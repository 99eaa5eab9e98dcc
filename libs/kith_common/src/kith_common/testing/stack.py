"""The real system as processes, for tests: `kith serve <service>` subprocesses + a fake Monica.

Cross-process guarantees (two replicas share the work, a SIGKILL mid-flight loses nothing, a
restart resumes) can only be shown with real processes on one NATS and one PostgreSQL, so this
harness starts them the way deploy.md runs them: one process per (service, index), configured
only through KITH_* variables, each with its own metrics port, logs as JSON lines in a file of
its own under the state dir. PostgreSQL and NATS are the caller's (the session's servers);
isolation is by stream prefix and by account, so several stacks can share one machine.

    async with Stack(database_url, nats_url, stream_prefix, tmp_path,
                     replicas={"importer": 2, "dedup": 2}) as stack:
        account_id, token = await stack.create_account()
        async with stack.api(token) as api:
            started = await api.post("/v1/imports", json={...: stack.monica_url})
        row = await stack.wait_import(token, started.json()["id"], media=True)
        stack.kill("importer", 0)                  # SIGKILL by default
        await stack.process("importer", 0).wait()
        await stack.restart("importer", 0)
        samples = await stack.metrics("dedup", 1)  # prometheus_client Samples
        ok = await stack.metric_total("dedup", "kith_bus_messages_handled_total", outcome="ok")

A restarted process gets a new metrics port (its counters start from zero); the gateway keeps
its port so `gateway_url` stays valid.

Leaving the `async with` stops every process (SIGTERM, then SIGKILL after the grace period)
and the fake Monica; `stack.pids()` is empty afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kith_common.accounts import create_account, issue_api_token
from kith_common.db.session import create_engine, session_factory
from kith_common.ports import free_port
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, generate

__all__ = [
    "SECRET_KEY",
    "SERVICES",
    "WORKERS",
    "Process",
    "Stack",
    "free_port",
    "sample_sum",
]

SERVICES = ("gateway", "importer", "dedup", "photos", "reset")
WORKERS = ("importer", "dedup", "photos", "reset")
# The AES key every process shares; `kith serve` refuses the built-in development secret.
# urlsafe base64 of 32 bytes is used as the key as is, so tests can decrypt with bytes(range(32)).
SECRET_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()
TERMINAL_IMPORT = ("completed", "failed", "cancelled")


def sample_sum(samples: Iterable[Sample], name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels` (0 when none)."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


@dataclass
class Process:
    """One `kith serve <service>` subprocess; `index` tells replicas of a service apart."""

    service: str
    index: int
    env: dict[str, str]
    log_path: Path
    metrics_port: int = 0
    proc: asyncio.subprocess.Process | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def spawn(self) -> None:
        """Start the process on a fresh metrics port, appending to its log file."""
        self.metrics_port = free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kith_common.cli.main",
            "serve",
            self.service,
            env=dict(self.env, KITH_METRICS_PORT=str(self.metrics_port)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
        )

    async def wait_ready(self, client: httpx.AsyncClient, timeout: float) -> None:  # noqa: ASYNC109
        """Poll `/readyz` on the metrics port; fail early (with the log tail) if it exits."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if not self.running:
                msg = f"{self.name} exited with {self.returncode()} before ready:\n{self.tail()}"
                raise RuntimeError(msg)
            try:
                answer = await client.get(f"http://127.0.0.1:{self.metrics_port}/readyz")
                if answer.status_code == 200:
                    return
                last = answer.text
            except httpx.HTTPError as err:
                last = f"{type(err).__name__}: {err}"
            await asyncio.sleep(0.2)
        msg = f"{self.name} not ready after {timeout} s ({last}):\n{self.tail()}"
        raise RuntimeError(msg)

    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc is not None else None

    def signal(self, signum: int) -> None:
        if self.running:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    async def wait(self, timeout: float | None = None) -> int:  # noqa: ASYNC109
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        self._close_log()
        return code

    async def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
        if self.proc is None:
            return
        if self.running:
            self.signal(signal.SIGTERM)
            try:
                await self.wait(grace)
            except TimeoutError:
                self.signal(signal.SIGKILL)
        await self.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class Stack:
    """Gateway + workers as subprocesses and a fake Monica in a thread; see the module docstring.

    Args:
        database_url: a migrated database (the `database_url` fixture).
        nats_url: the NATS server (the `nats_url` fixture).
        stream_prefix: isolates this stack's streams and subjects (the `stream_prefix` fixture).
        state_dir: files (KITH_STORAGE_URL) and `logs/<service>-<index>.log` go here.
        replicas: processes per service; services not named get one, a count of 0 none.
        env: extra KITH_* variables for every process (override the defaults).
        fake: the Monica to serve; default a small generated world (token "test-token").
        shutdown_grace: KITH_SHUTDOWN_GRACE_SECONDS; stop waits this + 10 s before SIGKILL.
        ready_timeout: seconds each process gets to turn `/readyz` green.
    """

    def __init__(
        self,
        database_url: str,
        nats_url: str,
        stream_prefix: str,
        state_dir: Path | str,
        *,
        replicas: Mapping[str, int] | None = None,
        env: Mapping[str, str] | None = None,
        fake: FakeMonica | None = None,
        shutdown_grace: int = 2,
        ready_timeout: float = 120.0,
    ) -> None:
        unknown = set(replicas or {}) - set(SERVICES)
        if unknown:
            msg = f"unknown services {sorted(unknown)}; known: {SERVICES}"
            raise ValueError(msg)
        self.database_url = database_url
        self.nats_url = nats_url
        self.stream_prefix = stream_prefix
        self.state_dir = Path(state_dir)
        self.replicas = {s: (replicas or {}).get(s, 1) for s in SERVICES}
        self.fake = fake or FakeMonica(generate(contacts=10, seed=1), rate_limit=0)
        self.shutdown_grace = shutdown_grace
        self.ready_timeout = ready_timeout
        self.gateway_port = free_port()
        self.env = {
            **os.environ,
            "KITH_DATABASE_URL": database_url,
            "KITH_NATS_URL": nats_url,
            "KITH_STREAM_PREFIX": stream_prefix,
            "KITH_GATEWAY_PORT": str(self.gateway_port),
            "KITH_SECRET_KEY": SECRET_KEY,
            "KITH_STORAGE_URL": (self.state_dir / "files").resolve().as_uri(),
            "KITH_IMPORT_ALLOW_PRIVATE_HOSTS": "true",
            "KITH_MONICA_RATE_LIMIT_PER_MINUTE": "0",
            "KITH_LOG_FORMAT": "json",
            "KITH_SHUTDOWN_GRACE_SECONDS": str(shutdown_grace),
            **(env or {}),
        }
        self.processes: dict[tuple[str, int], Process] = {}
        self._server: FakeMonicaServer | None = None
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._http = httpx.AsyncClient(timeout=10.0)

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Stack:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Serve the fake Monica, spawn every process, wait until each `/readyz` is green."""
        (self.state_dir / "files").mkdir(parents=True, exist_ok=True)
        self._server = FakeMonicaServer(self.fake).start()
        for service in SERVICES:
            for index in range(self.replicas[service]):
                process = Process(
                    service, index, self.env, self.state_dir / "logs" / f"{service}-{index}.log"
                )
                self.processes[service, index] = process
                await process.spawn()
        await asyncio.gather(
            *(p.wait_ready(self._http, self.ready_timeout) for p in self.processes.values())
        )
        if self.replicas["gateway"]:
            await self._wait_gateway()

    async def stop(self) -> None:
        """Stop every process (SIGTERM, SIGKILL after grace + 10 s), the fake and the clients."""
        await asyncio.gather(
            *(p.stop(self.shutdown_grace + 10) for p in self.processes.values()),
            return_exceptions=True,
        )
        if self._server is not None:
            await asyncio.to_thread(self._server.stop)
            self._server = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        await self._http.aclose()

    def pids(self) -> list[int]:
        """Pids of the processes still running (empty after a clean stop)."""
        return [p.pid for p in self.processes.values() if p.running and p.pid is not None]

    def process(self, service: str, index: int = 0) -> Process:
        return self.processes[service, index]

    def kill(self, service: str, index: int = 0, sig: int = signal.SIGKILL) -> None:
        """Send `sig` (default SIGKILL: no drain, no goodbye) to one process."""
        self.process(service, index).signal(sig)

    async def restart(
        self, service: str, index: int = 0, *, env: Mapping[str, str] | None = None
    ) -> Process:
        """Stop the process if it still runs (SIGTERM), start it again, wait until ready.

        `env` overrides variables for this process from now on (e.g. a fault setting).
        """
        process = self.process(service, index)
        await process.stop(self.shutdown_grace + 10)
        if env:
            process.env = {**process.env, **env}
        await process.spawn()
        await process.wait_ready(self._http, self.ready_timeout)
        if service == "gateway":
            await self._wait_gateway()
        return process

    async def _wait_gateway(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            try:
                if (await self._http.get(f"{self.gateway_url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                msg = f"gateway not answering on {self.gateway_url}"
                raise RuntimeError(msg)
            await asyncio.sleep(0.2)

    # --- what tests use --------------------------------------------------------------------------

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def monica_url(self) -> str:
        """The fake Monica's base URL (an import's `api_url`)."""
        assert self._server is not None, "the stack is not started"
        return self._server.url

    def api(self, token: str, *, timeout: float = 30.0) -> httpx.AsyncClient:
        """A client on the gateway with `Authorization: Bearer <token>`; use it as `async with`."""
        return httpx.AsyncClient(
            base_url=self.gateway_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Sessions on the stack's database, for assertions on rows."""
        if self._sessions is None:
            self._engine = create_engine(self.database_url)
            self._sessions = session_factory(self._engine, stream_prefix=self.stream_prefix)
        return self._sessions

    async def create_account(self, name: str = "Stack") -> tuple[int, str]:
        """A fresh account with an admin user; returns (account_id, the admin's API token)."""
        async with self.sessions() as session, session.begin():
            account, user = await create_account(
                session, name=name, email=f"stack-{uuid.uuid4().hex[:12]}@example.com"
            )
            token = await issue_api_token(session, user, "stack")
        return account.id, token

    async def metrics(self, service: str, index: int = 0) -> list[Sample]:
        """Every sample from one process's `/metrics` (Prometheus text, parsed)."""
        process = self.process(service, index)
        answer = await self._http.get(f"http://127.0.0.1:{process.metrics_port}/metrics")
        answer.raise_for_status()
        return [
            sample
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples
        ]

    async def metric_total(self, service: str, name: str, **labels: str) -> float:
        """`name` summed over every running replica of `service` (see `sample_sum`)."""
        total = 0.0
        for (svc, index), process in self.processes.items():
            if svc == service and process.running:
                total += sample_sum(await self.metrics(svc, index), name, **labels)
        return total

    async def wait_import(
        self,
        token: str,
        import_id: int,
        *,
        statuses: tuple[str, ...] = TERMINAL_IMPORT,
        media: bool = False,
        misc: bool = False,
        timeout: float = 120.0,  # noqa: ASYNC109  # a polling deadline
    ) -> dict[str, Any]:
        """Poll GET /v1/imports/{id} until `status` is in `statuses` (and, with `media` or
        `misc`, until that follow-up phase is terminal too); returns the import as the API
        shows it. A follow-up still running when a test resets the account ends `stale`,
        which is right for the system but not what a test counting `ok` handlings expects."""
        follow_ups = [name for name, wanted in (("media", media), ("misc", misc)) if wanted]
        deadline = time.monotonic() + timeout
        async with self.api(token) as api:
            while True:
                answer = await api.get(f"/v1/imports/{import_id}")
                answer.raise_for_status()
                row: dict[str, Any] = answer.json()
                done = row["status"] in statuses
                if follow_ups and row["status"] == "completed":
                    done = all(
                        row[f"{name}_status"] in (*TERMINAL_IMPORT, None) for name in follow_ups
                    )
                if done:
                    return row
                if time.monotonic() > deadline:
                    msg = f"import {import_id} not done after {timeout} s: {row}"
                    raise AssertionError(msg)
                await asyncio.sleep(0.2)
