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
    from kith_common.testing.fake_monica.server import FakeMonicaServer

SERVICES = ("gateway", "importer", "dedup", "photos", "reset")
DEMO_EMAIL = "demo@kith.local"
READY_TIMEOUT_SECONDS = 90.0
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


def _print_demo(monica: FakeMonicaServer, gateway_port: int) -> None:
    _say(f"Demo Monica (fake, {DEMO_CONTACTS} contacts): {monica.url}  API key: {DEMO_API_KEY}")
    _say(
        "  import it: curl -X POST -H 'Authorization: Bearer <admin token>' "
        f"-H 'Content-Type: application/json' http://127.0.0.1:{gateway_port}/v1/imports "
        f'-d \'{{"api_url": "{monica.url}", "api_key": "{DEMO_API_KEY}", '
        '"options": {"photos": true, "documents": true}}\''
    )


def run(settings: Settings, *, state_dir: str, demo: bool = False) -> int:
    """Run the stack until interrupted; returns the exit code."""
    configure_logging(service="dev", log_format="console", level=settings.log_level)
    state = Path(state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    interrupted = False

    def _interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    children: dict[str, subprocess.Popen[bytes]] = {}
    monica = _demo_monica() if demo else None
    try:
        with resolve_stack(
            settings.database_url, settings.nats_url, state, nats_accounts=True
        ) as stack:
            token = asyncio.run(_prepare_database(stack.database_url))
            env = _service_env(settings, stack.database_url, stack.nats_url, _secret_key(state))
            ports = {name: settings.metrics_port + i for i, name in enumerate(SERVICES)}
            accounts = stack.embedded_nats.accounts if stack.embedded_nats else None
            for name in SERVICES:
                child_env = dict(env, KITH_METRICS_PORT=str(ports[name]))
                if accounts is not None:  # each service logs in as its own user, as deployed
                    user, password = accounts.login(name)
                    child_env.update(KITH_NATS_USER=user, KITH_NATS_PASSWORD=password)
                children[name] = subprocess.Popen(  # noqa: S603  # our own CLI, fixed arguments
                    [sys.executable, "-m", "kith_common.cli.main", "serve", name], env=child_env
                )
            try:
                _wait_ready(ports, children)
                _say(f"\nKith is up: http://127.0.0.1:{settings.gateway_port}/v1")
                _say(f"Admin token for {DEMO_EMAIL} (shown once): {token}")
                if monica is not None:
                    _print_demo(monica, settings.gateway_port)
                _say("Press Ctrl-C to stop.\n")
                while all(child.poll() is None for child in children.values()):
                    time.sleep(0.5)
                failed = [n for n, c in children.items() if c.poll() is not None]
                _say(f"kith dev: service stopped unexpectedly: {', '.join(failed)}")
                return 1
            except KeyboardInterrupt:
                interrupted = True
            finally:
                _stop_children(children, float(settings.shutdown_grace_seconds))
    except KeyboardInterrupt:
        interrupted = True
        _stop_children(children, float(settings.shutdown_grace_seconds))
    except RuntimeError as err:
        _say(f"kith dev: {err}")
        return 1
    finally:
        if monica is not None:
            monica.stop()
    if interrupted:
        _say("kith dev: stopped")
    return 0
