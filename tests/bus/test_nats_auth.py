"""NATS accounts and permissions (issue 19 §1) on a nats-server of the test's own.

The server runs the configuration `kith dev` writes (`devstack.write_nats_accounts`, the same
generator as the committed compose and Helm files), for this test's stream prefix. Every
service runs under its own user; what a user may not do, nats-server refuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import func, select

from kith_common.bus.natsconf import service_durables
from kith_common.bus.outbox import UndeclaredPublishError, add
from kith_common.bus.streams import StreamLayout
from kith_common.db.models import Inbox, Outbox
from kith_common.devstack import EmbeddedNats, NatsAccounts, write_nats_accounts
from kith_common.events import subjects
from kith_common.events.examples import example_envelope
from kith_common.events.parties import SERVICES, consumed_by
from kith_common.events.registry import SUBJECTS, spec_for
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.testing import eventually
from kith_common.testing.bus import Harness
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, generate
from kith_common.testing.inprocess import InProcessStack
from kith_gateway.testing import make_account, make_operator

VIOLATION = "permissions violation"


@dataclass
class Secured:
    url: str
    accounts: NatsAccounts
    log: Path

    def violations(self) -> list[str]:
        lines = self.log.read_text().splitlines()
        return [line for line in lines if VIOLATION in line.lower() or "Violation" in line]


@pytest.fixture
def secured(tmp_path: Path, stream_prefix: str) -> Iterator[Secured]:
    accounts = write_nats_accounts(tmp_path, layout=StreamLayout(stream_prefix))
    with EmbeddedNats(tmp_path, config=accounts.config, login=accounts.login("gateway")) as s:
        yield Secured(s.url, accounts, s.log_path)


async def _connect(secured: Secured, user: str, errors: list[str]) -> NatsClient:
    async def on_error(err: Exception) -> None:
        errors.append(str(err))

    name, password = secured.accounts.login(user)
    return await nats.connect(
        secured.url,
        user=name,
        password=password,
        error_cb=on_error,
        inbox_prefix=f"_INBOX_{user}" if user in SERVICES else "_INBOX",
        max_reconnect_attempts=0,
    )


async def test_the_events_user_reads_events_and_can_neither_command_nor_steal(
    secured: Secured, stream_prefix: str, database_url: str
) -> None:
    layout = StreamLayout(stream_prefix)
    errors: list[str] = []
    gateway = Runtime(_settings(secured, "gateway", stream_prefix, database_url), "gateway")
    await gateway.start()  # declares the streams, as the user the gateway runs as
    events = await _connect(secured, "events", errors)
    try:
        reset = example_envelope(subjects.ACCOUNT_RESET).model_dump_json().encode()
        await events.publish(layout.subject(subjects.ACCOUNT_RESET), reset)
        await events.flush()
        await eventually(lambda: any(VIOLATION in e.lower() for e in errors), timeout=5)
        assert layout.subject(subjects.ACCOUNT_RESET) in errors[-1]
        assert gateway.js is not None
        commands = await gateway.js.stream_info(layout.cmd)
        assert commands.state.messages == 0

        # It reads events with a durable of its own...
        dismissed = example_envelope(subjects.DEDUP_CANDIDATE_DISMISSED)
        await gateway.js.publish(
            layout.subject(subjects.DEDUP_CANDIDATE_DISMISSED), dismissed.model_dump_json().encode()
        )
        js = events.jetstream(timeout=2)
        mine = await js.pull_subscribe(
            layout.subject(subjects.EVT_ALL), durable="crm-indexer", stream=layout.evt
        )
        (msg,) = await mine.fetch(1, timeout=5)
        assert msg.subject == layout.subject(subjects.DEDUP_CANDIDATE_DISMISSED)
        await msg.ack()
        # ...but cannot bind, and so drain, a Kith durable on the same stream.
        errors.clear()
        with pytest.raises((nats.errors.TimeoutError, asyncio.TimeoutError)):
            await js.pull_subscribe(
                layout.subject(subjects.IMPORT_COMPLETED),
                durable="importer-misc",
                stream=layout.evt,
            )
        assert any("importer-misc" in e for e in errors), errors
    finally:
        await events.close()
        await gateway.stop()


async def test_a_service_that_publishes_an_undeclared_subject_is_refused(
    secured: Secured, stream_prefix: str, database_url: str
) -> None:
    # In code: a service's transaction refuses to queue a subject it does not declare...
    importer = Runtime(_settings(secured, "importer", stream_prefix, database_url), "importer")
    envelope = example_envelope(subjects.ACCOUNT_RESET)
    async with importer.sessions() as session, session.begin():
        with pytest.raises(UndeclaredPublishError, match=r"kith\.cmd\.account\.reset"):
            await add(session, subjects.ACCOUNT_RESET, envelope)
    await importer.engine.dispose()
    # ...and on the wire its user may not publish it either.
    errors: list[str] = []
    nc = await _connect(secured, "importer", errors)
    try:
        await nc.publish(StreamLayout(stream_prefix).subject(subjects.ACCOUNT_RESET), b"{}")
        await nc.flush()
        await eventually(lambda: any(VIOLATION in e.lower() for e in errors), timeout=5)
    finally:
        await nc.close()


def test_every_durable_a_service_binds_is_declared_as_its_consumer() -> None:
    """The registry (AsyncAPI, permissions) and the ConsumerSpecs name the same readers."""
    for service, specs in service_durables().items():
        for spec in specs:
            # A durable on a filter (`kith.evt.contact.>`) reads every subject under it.
            read = [name for name in SUBJECTS if _matches(spec.subject, name)]
            assert read, f"{spec.durable}: {spec.subject} matches no subject"
            for name in read:
                assert service in consumed_by(spec_for(name)), (
                    f"{spec.durable}: {name} lacks `{service}`"
                )


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` one token, `>` the rest."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or token not in ("*", have[index]):
            return False
    return len(want) == len(have)


def _settings(secured: Secured, service: str, prefix: str, database_url: str) -> Settings:
    user, password = secured.accounts.login(service)
    return Settings(
        database_url=database_url,
        nats_url=secured.url,
        nats_user=user,
        nats_password=password,
        stream_prefix=prefix,
        metrics_port=0,
        log_format="console",
        shutdown_grace_seconds=2,
    )


def test_every_service_works_under_its_own_user(
    secured: Secured, database_url: str, stream_prefix: str, tmp_path: Path
) -> None:
    """Connection check (request/reply), an import with its follow-ups, and a reset."""
    own_users = {
        name: {
            "nats_url": secured.url,
            "nats_user": secured.accounts.login(name)[0],
            "nats_password": secured.accounts.login(name)[1],
        }
        for name in SERVICES
    }
    world = generate(contacts=12, seed=5, duplicate_ratio=0.2, notes_per_contact=0.5)
    with (
        FakeMonicaServer(FakeMonica(world)) as monica,
        InProcessStack(
            Harness(database_url, secured.url, stream_prefix),
            tmp_path / "storage",
            per_service=own_users,
            drop_streams=False,
        ) as stack,
    ):
        account = stack.call(make_account(stack.sessions))
        with httpx.Client(base_url=stack.base_url, headers=account.headers(), timeout=30) as api:
            monica_in = {"api_url": monica.url, "api_key": "test-token"}
            check = api.post("/v1/imports/monica/check", json=monica_in)
            assert check.status_code == 200, check.text
            assert check.json()["ok"] is True

            started = api.post("/v1/imports", json={**monica_in, "options": {}})
            assert started.status_code == 202, started.text
            import_url = f"/v1/imports/{started.json()['id']}"
            stack.call(eventually(lambda: _done(api, import_url), timeout=60), timeout=70)

            reset = api.post("/v1/account/reset", json={"confirm": "RESET"})
            assert reset.status_code == 202, reset.text
            reset_url = f"/v1/account/resets/{reset.json()['id']}"
            stack.call(eventually(lambda: _done(api, reset_url), timeout=60), timeout=70)

            # The operator API reads the streams, durables and dead letters as the gateway.
            operator = {"Authorization": f"Bearer {stack.call(make_operator(stack.sessions))}"}
            for path in ("/v1/admin/bus", "/v1/admin/dlq"):
                answer = api.get(path, headers=operator)
                assert answer.status_code == 200, answer.text
            streams = {
                s["name"]: s for s in api.get("/v1/admin/bus", headers=operator).json()["streams"]
            }
            assert streams[f"{stream_prefix}_KITH_EVT"]["consumers"]

        # The relay sends a finished reset's last events just after its status is written; what
        # matters is that nothing stays unsent (a refused publish would stay forever).
        handled, unsent = stack.call(
            eventually(
                lambda: _bus_effects(stack, account.id, stream_prefix, drained=True),
                timeout=15,
                what="every outbox row sent",
            ),
            timeout=20,
        )
    assert {
        "importer-start",
        "importer-misc",
        "dedup-import-scan",
        "photos-import-completed",
        "reset-orchestrator",
        "reset-contacts",
        "reset-fanin",
    } <= handled
    assert unsent == 0
    assert secured.violations() == []


async def _done(api: httpx.Client, url: str) -> bool:
    body = await asyncio.to_thread(lambda: api.get(url).json())
    if body["status"] == "failed":
        pytest.fail(f"{url} failed: {body}")
    follow_ups = (body.get("misc_status"), body.get("media_status"))  # an import's later phases
    return body["status"] == "completed" and all(
        phase not in ("pending", "processing", "cancelling") for phase in follow_ups
    )


async def _bus_effects(
    stack: InProcessStack, account_id: int, prefix: str, *, drained: bool = False
) -> tuple[set[str], int]:
    """Consumers that handled the account's messages, and outbox rows not yet sent.

    With `drained`, an unsent row counts as "not yet" for `eventually`.
    """
    async with stack.sessions() as session:
        handled = set(
            (
                await session.scalars(
                    select(Inbox.consumer).where(Inbox.account_id == account_id).distinct()
                )
            ).all()
        )
        unsent = await session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.stream_prefix == prefix, Outbox.sent_at.is_(None))
        )
    assert not (drained and unsent), f"{unsent} outbox rows unsent"
    return handled, int(unsent or 0)
