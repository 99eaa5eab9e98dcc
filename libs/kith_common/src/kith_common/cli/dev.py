"""`kith dev`: the whole stack on one machine, for trying Kith and for developing it.

It uses the PostgreSQL and NATS the settings name when they answer and otherwise starts
embedded ones (kith_common.devstack; the embedded NATS with account KITH and one user per
service, as deployed, each service logging in as its own), migrates, makes sure a demo
account exists and prints a fresh admin token for it, starts the five services as child
processes and waits until every `/readyz` is green. Ctrl-C (or SIGTERM) stops the services,
then exactly the servers it started: nothing is left behind.

`kith dev --demo` also serves a seeded fake Monica (a few hundred contacts with duplicates,
photos, documents and misc data) on a local port and prints its URL and API key, so the
README's two-minute demo has something to import without a real Monica account.

A newcomer meets a short box (console, API, token, demo Monica, where the logs are), not a
hundred log lines: each service writes to `<state dir>/logs/<service>.log` and the terminal
shows warnings only, unless `--verbose`. A service that dies is restarted with a growing delay
(and said so) instead of taking the stack down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from kith_common.devstack import resolve_stack
from kith_common.logging import configure_logging
from kith_common.settings import Settings

if TYPE_CHECKING:
    from kith_common.devstack import NatsAccounts
    from kith_common.testing.fake_monica.server import FakeMonicaServer

SERVICES = ("gateway", "importer", "dedup", "photos", "reset")
DEMO_EMAIL = "demo@kith.local"
READY_TIMEOUT_SECONDS = 90.0
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)  # after the 1st, 2nd, ... crash in a row
STABLE_SECONDS = 60.0  # up this long: the next crash starts the delays over
DEMO_CONTACTS = 300
DEMO_SEED = 7
DEMO_API_KEY = "kith-demo-key"  # the fake Monica's own, public demo key


def _say(text: str) -> None:
    print(text, flush=True)  # CLI output


def _secret_key(state_dir: Path) -> str:
    """A random secret kept in the state dir, so encrypted rows survive a restart."""
    path = state_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


async def _prepare_database(database_url: str) -> str:
    """Migrate, ensure the demo account, and return a new admin token for it."""
    from kith_common.accounts import create_account, issue_api_token
    from kith_common.db.migrate import migrate
    from kith_common.db.models import User
    from kith_common.db.session import create_engine, session_factory

    await migrate(database_url)
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            user = await session.scalar(select(User).where(User.email == DEMO_EMAIL))
            if user is None:
                _account, user = await create_account(session, name="Demo", email=DEMO_EMAIL)
            return await issue_api_token(session, user, "kith dev")
    finally:
        await engine.dispose()


def _service_env(settings: Settings, stack_db: str, stack_nats: str, secret: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KITH_DATABASE_URL=stack_db,
        KITH_NATS_URL=stack_nats,
        KITH_SECRET_KEY=secret,
        KITH_IMPORT_ALLOW_PRIVATE_HOSTS="true",
        KITH_LOG_FORMAT=env.get("KITH_LOG_FORMAT", "console"),
        KITH_GATEWAY_PORT=str(settings.gateway_port),
    )
    return env


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/readyz", timeout=2
        ) as response:  # fixed local URL
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_ready(ports: dict[str, int], children: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    pending = dict(ports)
    while pending:
        for name, child in children.items():
            if child.poll() is not None:
                msg = f"service {name} exited with code {child.returncode} during start-up"
                raise RuntimeError(msg)
        pending = {name: port for name, port in pending.items() if not _ready(port)}
        if time.monotonic() > deadline:
            msg = f"not ready after {READY_TIMEOUT_SECONDS:.0f} s: {', '.join(pending)}"
            raise RuntimeError(msg)
        time.sleep(0.3)


def _stop_children(children: dict[str, subprocess.Popen[bytes]], grace: float) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace + 5
    for child in children.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        if child.poll() is None:
            child.kill()
            child.wait()


def _demo_monica() -> FakeMonicaServer:
    """A seeded fake Monica: duplicates, partials, photos, documents and misc data.

    No rate limit, so the demo import finishes in seconds rather than minutes.
    """
    from kith_common.testing.fake_monica.app import FakeMonica
    from kith_common.testing.fake_monica.generator import generate
    from kith_common.testing.fake_monica.server import FakeMonicaServer

    world = generate(
        contacts=DEMO_CONTACTS,
        seed=DEMO_SEED,
        token=DEMO_API_KEY,
        duplicate_ratio=0.08,
        photos=20,
        documents=6,
        misc_per_contact=1.0,
    )
    return FakeMonicaServer(FakeMonica(world, rate_limit=0)).start()


def _box(rows: list[tuple[str, str]], footer: str) -> str:
    """The greeting as a box sized to its content (no wrapping: tokens and URLs stay whole)."""
    width = max(len(label) for label, _ in rows if label) + 2
    lines = ["Kith is up", ""]
    lines += [f"{label:<{width}}{value}" if label else " " * width + value for label, value in rows]
    lines += ["", footer]
    inner = max(len(line) for line in lines)
    top, bottom = "╭" + "─" * (inner + 2) + "╮", "╰" + "─" * (inner + 2) + "╯"
    return "\n".join([top, *(f"│ {line:<{inner}} │" for line in lines), bottom])


def _greeting(
    settings: Settings, token: str, logs: Path | None, monica: FakeMonicaServer | None
) -> str:
    base = f"http://127.0.0.1:{settings.gateway_port}"
    rows = [
        ("Console", f"{base}/console"),
        ("API", f"{base}/v1"),
        ("Admin token", token),
        ("", f"for {DEMO_EMAIL}, shown once: copy it"),
    ]
    if monica is not None:
        rows += [
            ("Demo Monica", f"{monica.url}  API key {DEMO_API_KEY}"),
            ("", f"{DEMO_CONTACTS} fake contacts: import them from the console"),
        ]
    if logs is not None:
        rows.append(("Logs", f"{logs}/"))
    return _box(rows, "Sign in to the console with the token. Ctrl-C stops everything.")


def _demo_curl(monica: FakeMonicaServer, gateway_port: int) -> str:
    return (
        "Or from a terminal: curl -X POST -H 'Authorization: Bearer <admin token>' "
        f"-H 'Content-Type: application/json' http://127.0.0.1:{gateway_port}/v1/imports "
        f'-d \'{{"api_url": "{monica.url}", "api_key": "{DEMO_API_KEY}", '
        '"options": {"photos": true, "documents": true}}\''
    )


class _Services:
    """The five service processes: started, restarted with a growing delay, stopped."""

    def __init__(
        self,
        env: dict[str, str],
        ports: dict[str, int],
        logs: Path | None,
        accounts: NatsAccounts | None = None,
    ) -> None:
        self.env, self.ports, self.logs, self.accounts = env, ports, logs, accounts
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._crashes: dict[str, int] = {}
        self._started: dict[str, float] = {}
        self._due: dict[str, float] = {}  # service -> when to start it again

    def start(self, name: str) -> None:
        child_env = dict(self.env, KITH_METRICS_PORT=str(self.ports[name]))
        if self.accounts is not None:  # each service logs in as its own user, as deployed
            user, password = self.accounts.login(name)
            child_env.update(KITH_NATS_USER=user, KITH_NATS_PASSWORD=password)
        out = None if self.logs is None else (self.logs / f"{name}.log").open("ab")
        try:
            self.children[name] = subprocess.Popen(  # noqa: S603  # our own CLI, fixed arguments
                [sys.executable, "-m", "kith_common.cli.main", "serve", name],
                env=child_env,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
            )
        finally:
            if out is not None:
                out.close()  # the child holds its own descriptor
        self._started[name] = time.monotonic()

    def start_all(self) -> None:
        for name in self.ports:
            self.start(name)

    def watch(self) -> None:
        """Restart any service that died; never returns (Ctrl-C ends it)."""
        while True:
            now = time.monotonic()
            for name, child in self.children.items():
                if child.poll() is None or name in self._due:
                    continue
                if now - self._started[name] >= STABLE_SECONDS:
                    self._crashes[name] = 0
                crashes = self._crashes.get(name, 0)
                delay = RESTART_DELAYS[min(crashes, len(RESTART_DELAYS) - 1)]
                self._crashes[name] = crashes + 1
                self._due[name] = now + delay
                where = f"; see {self.logs / (name + '.log')}" if self.logs else ""
                _say(
                    f"kith dev: {name} stopped (exit code {child.returncode}); "
                    f"restarting it in {delay:.0f} s{where}"
                )
            for name, due in list(self._due.items()):
                if now >= due:
                    del self._due[name]
                    self.start(name)
                    _say(f"kith dev: {name} restarted")
            time.sleep(0.3)

    def stop(self, grace: float) -> None:
        _stop_children(self.children, grace)


def run(settings: Settings, *, state_dir: str, demo: bool = False, verbose: bool = False) -> int:
    """Run the stack until interrupted; returns the exit code."""
    level = settings.log_level if verbose else "warning"
    configure_logging(service="dev", log_format="console", level=level)
    state = Path(state_dir).resolve()
    logs = None if verbose else state / "logs"
    (logs or state).mkdir(parents=True, exist_ok=True)

    def _interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    monica = _demo_monica() if demo else None
    services: _Services | None = None
    if not verbose:
        _say(f"Starting Kith (logs in {logs}/) …")
    try:
        with resolve_stack(
            settings.database_url, settings.nats_url, state, nats_accounts=True
        ) as stack:
            token = asyncio.run(_prepare_database(stack.database_url))
            env = _service_env(settings, stack.database_url, stack.nats_url, _secret_key(state))
            if not verbose:
                env.setdefault("KITH_LOG_LEVEL", "info")
            ports = {name: settings.metrics_port + i for i, name in enumerate(SERVICES)}
            accounts = stack.embedded_nats.accounts if stack.embedded_nats else None
            services = _Services(env, ports, logs, accounts)
            services.start_all()
            try:
                _wait_ready(ports, services.children)
                _say("\n" + _greeting(settings, token, logs, monica))
                if monica is not None:
                    _say(_demo_curl(monica, settings.gateway_port))
                services.watch()
            finally:
                services.stop(float(settings.shutdown_grace_seconds))
    except KeyboardInterrupt:
        if services is not None:
            services.stop(float(settings.shutdown_grace_seconds))
        _say("kith dev: stopped")
        return 0
    except RuntimeError as err:
        _say(f"kith dev: {err}")
        return 1
    finally:
        if monica is not None:
            monica.stop()
    return 0
