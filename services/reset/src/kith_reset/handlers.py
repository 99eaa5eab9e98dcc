"""Thin handlers: each turns its message into one domain call (CONVENTIONS §2)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kith_common.bus.subscribe import MessageContext
from kith_common.events.payloads.dlq import DeadLetter
from kith_common.events.payloads.resets import AccountResetDomainDone, ResetAccount
from kith_common.storage import Storage
from kith_reset import cleanup, failures, fanin, files, orchestrator
from kith_reset.domains import Domain
from kith_reset.job import Job
from kith_reset.tuning import Tuning

Handler = Callable[[MessageContext[Any]], Awaitable[None]]


def job_of(ctx: MessageContext[Any]) -> Job:
    assert ctx.envelope.account_id is not None
    return Job(
        account_id=ctx.envelope.account_id,
        reset_id=ctx.data.reset_id,
        attempt=ctx.data.attempt,
        deliveries=ctx.deliveries,
        unit_of_work=ctx.unit_of_work,
        heartbeat=ctx.heartbeat,
        follow_up=ctx.follow_up,
    )


def orchestrate(tuning: Tuning) -> Handler:
    async def handle(ctx: MessageContext[ResetAccount]) -> None:
        await orchestrator.run(job_of(ctx), tuning)

    return handle


def clean_domain(domain: Domain, tuning: Tuning, storage: Storage) -> Handler:
    async def handle(ctx: MessageContext[Any]) -> None:
        if domain.name == files.NAME:
            await files.run(job_of(ctx), storage, tuning)
        else:
            await cleanup.run(job_of(ctx), domain, tuning)

    return handle


async def fan_in(ctx: MessageContext[AccountResetDomainDone]) -> None:
    assert ctx.envelope.account_id is not None
    await fanin.on_domain_done(
        ctx.tx,
        account_id=ctx.envelope.account_id,
        reset_id=ctx.data.reset_id,
        attempt=ctx.data.attempt,
        follow_up=ctx.follow_up,
    )


async def dead_letter(ctx: MessageContext[DeadLetter]) -> None:
    await failures.on_dead_letter(
        ctx.tx,
        ctx.data,
        account_id=ctx.envelope.account_id,
        generation=ctx.envelope.generation,
        follow_up=ctx.follow_up,
    )
