"""A Monica that asks for hour-long waits or stops answering cannot hold an import (issue #20)."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import imports
from kith_common.bus import outbox
from kith_common.db.models import Account
from kith_common.events import subjects
from kith_common.events.payloads.imports import CancelImport
from kith_common.events.registry import build_envelope
from kith_common.service import Runtime
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, Fault
from kith_importer.testing import create, wait_for

from .conftest import RunImport

Sessions = async_sessionmaker[AsyncSession]


async def test_an_hour_long_retry_after_fails_the_import_with_a_reason_to_retry_later(
    run_import: RunImport, fake: FakeMonica
) -> None:
    fake.rate_limit, fake.rate_window = 1, 3600.0  # the second request gets Retry-After ≈ 3600
    row = await run_import(timeout=30)
    assert row.status == "failed"
    assert row.error is not None
    assert "Monica asked to wait 3600 s, longer than the 120 s the importer waits" in row.error
    assert row.error.endswith("start the import again later")
    assert row.api_key_encrypted is None


async def test_cancel_interrupts_a_request_monica_never_answers(
    importer: Runtime,
    fake: FakeMonica,
    server: FakeMonicaServer,
    session_factory: Sessions,
    account: tuple[int, int],
) -> None:
    arrived = threading.Event()

    def watch(_: FakeMonica, path: str, query: str) -> None:
        if path == "/api/contacts":
            arrived.set()

    fake.on_arrival = watch
    fake.add_fault(Fault("/api/contacts", kind="slow", delay=20.0, page=1))
    import_id = await create(session_factory, account, server.url)
    assert await asyncio.to_thread(arrived.wait, 30)
    async with session_factory() as session, session.begin():
        row = await imports.request_cancel(session, account_id=account[0], import_id=import_id)
        generation = await session.scalar(
            select(Account.generation).where(Account.id == account[0])
        )
        envelope = build_envelope(
            subjects.IMPORT_CANCEL,
            CancelImport(import_id=row.id),
            account_id=account[0],
            generation=generation,
        )
        await outbox.add(session, subjects.IMPORT_CANCEL, envelope)
    # The listing request is still waiting for its answer (20 s, read timeout 60 s): the
    # cancel command wakes it instead of letting it run to the end.
    done = await wait_for(session_factory, import_id, ("cancelled",), timeout=10)
    assert done.summary["contacts"] == 0
