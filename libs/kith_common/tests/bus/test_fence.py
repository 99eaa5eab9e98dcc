"""The account-generation fence: stale work is dropped and cannot commit (ARCHITECTURE §5)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.js import JetStreamContext
from sqlalchemy import text

from kith_common import fence
from kith_common.errors import StaleGeneration
from kith_common.service import Runtime
from kith_common.testing import eventually
from kith_common.testing.bus import Harness, record_effect


async def test_message_of_an_older_generation_is_acked_without_effect(
    harness: Harness, js: JetStreamContext, account: tuple[int, int], envelope_for: Any
) -> None:
    runtime = harness.runtime("fenced")
    spec = harness.spec(durable="test-fenced")
    runtime.consume(spec, type(envelope_for().data))(harness.recording_handler("fenced"))
    await runtime.start()
    async with runtime.sessions() as session, session.begin():
        await fence.bump(session, account[0])
    stale = envelope_for()  # stamped with the generation before the bump
    fresh = envelope_for(generation=account[1] + 1)
    await harness.publish_raw(js, stale, str(stale.id))
    await harness.publish_raw(js, fresh, str(fresh.id))
    await eventually(lambda: harness.has_effect(fresh.id))
    assert await harness.effects(stale.id) == []
    info = await js.consumer_info(f"{harness.prefix}_KITH_CMD", spec.durable)
    assert info.num_ack_pending == 0
    assert info.num_pending == 0


async def test_writer_whose_generation_moved_on_cannot_commit(
    harness: Harness, account: tuple[int, int], envelope_for: Any
) -> None:
    runtime = harness.runtime("writer")
    account_id, generation = account
    marker = envelope_for()
    async with runtime.sessions() as writer:
        await writer.begin()
        await record_effect(writer, "writer", marker.id, "writer")
        # The reset bumps the generation while the writer's transaction is open.
        async with runtime.sessions() as reset, reset.begin():
            await fence.bump(reset, account_id)
        with pytest.raises(StaleGeneration):
            await fence.hold(writer, account_id, generation)
        await writer.rollback()
    assert await harness.effects(marker.id) == []


async def test_reset_bump_waits_for_a_writer_holding_the_fence(
    harness: Harness, account: tuple[int, int], envelope_for: Any
) -> None:
    runtime = harness.runtime("holder")
    account_id, generation = account
    marker = envelope_for()
    order: list[str] = []
    async with runtime.sessions() as writer:
        await writer.begin()
        await fence.hold(writer, account_id, generation)

        async def reset() -> None:
            async with runtime.sessions() as session, session.begin():
                await fence.bump(session, account_id)
            order.append("bumped")

        bump = asyncio.create_task(reset())
        await eventually(lambda: _bump_is_waiting(runtime))
        await record_effect(writer, "holder", marker.id, "holder")
        order.append("writer committed")
        await writer.commit()
    await bump
    assert order == ["writer committed", "bumped"]
    assert len(await harness.effects(marker.id)) == 1


async def _bump_is_waiting(runtime: Runtime) -> bool:
    async with runtime.sessions() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE 'UPDATE accounts SET generation%'"
            )
        )
    return bool(waiting)
