"""Operator use cases: bus state, the dead-letter queue and its replay, phone backfills.

Replay republishes the original envelope to its subject with a fresh `Nats-Msg-Id` (the
duplicate window would drop the original id); the consumers' inbox still prevents a second
effect if the message had in fact succeeded. The letter is removed only once JetStream
acknowledged the republished message, so a replayed letter is not replayed twice by accident;
if the replay fails again, the bus writes a new letter (its id includes the new message's
stream sequence, so the DLQ's duplicate window cannot drop it).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import structlog
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.errors import InvalidInput, NotFound
from kith_common.events import subjects
from kith_common.events.envelope import READER_CONTEXT
from kith_common.events.payloads.dlq import DeadLetter
from kith_common.events.payloads.phones import RenormalizePhones
from kith_gateway import pagination
from kith_gateway.context import GatewayContext
from kith_gateway.repositories import admin as repo
from kith_gateway.schemas.admin import (
    BusOut,
    ConsumerOut,
    DeadLetterOut,
    RenormalizeAccepted,
    ReplayAccepted,
    StreamOut,
)
from kith_gateway.schemas.common import Page, PageMeta
from kith_gateway.services.publishing import publish

log = structlog.get_logger(__name__)
_CURSOR = "dlq"


def _last_active(*values: dt.datetime | None) -> dt.datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


async def bus(ctx: GatewayContext) -> BusOut:
    js = (await ctx.nats.client()).jetstream()
    streams = []
    for name in (ctx.layout.cmd, ctx.layout.evt, ctx.layout.dlq):
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            continue
        consumers = [
            ConsumerOut(
                name=c.name,
                pending=c.num_pending or 0,
                ack_pending=c.num_ack_pending or 0,
                redelivered=c.num_redelivered or 0,
                waiting=c.num_waiting or 0,
                last_active=_last_active(
                    c.delivered.last_active if c.delivered else None,
                    c.ack_floor.last_active if c.ack_floor else None,
                ),
            )
            for c in await js.consumers_info(name)
        ]
        state = info.state
        streams.append(
            StreamOut(
                name=name,
                messages=state.messages,
                bytes=state.bytes,
                first_seq=state.first_seq,
                last_seq=state.last_seq,
                consumers=sorted(consumers, key=lambda c: c.name),
            )
        )
    return BusOut(streams=streams)


def _letter(seq: int, data: bytes) -> DeadLetterOut | None:
    try:
        head = json.loads(data)
        letter = DeadLetter.model_validate(head.get("data"), context=READER_CONTEXT)
    except (ValueError, ValidationError, AttributeError):
        return None
    return DeadLetterOut(
        seq=seq,
        subject=letter.subject,
        consumer=letter.consumer,
        error_type=letter.error_type,
        error_message=letter.error_message,
        deliveries=letter.deliveries,
        failed_at=letter.failed_at,
        account_id=head.get("account_id"),
        envelope=letter.envelope,
    )


async def dead_letters(
    ctx: GatewayContext, cursor: str | None, limit: int, *, with_total: bool = False
) -> Page[DeadLetterOut]:
    """Dead letters, oldest first, keyed by stream sequence.

    Forward pages ask the stream for the next message of the DLQ subjects; a page back reads
    sequences downwards one by one (a replayed letter leaves a gap), down to the stream's first.
    """
    key = pagination.decode(cursor, _CURSOR, {"s": int})
    js = (await ctx.nats.client()).jetstream()

    async def after(k: dict[str, Any] | None) -> list[DeadLetterOut]:
        seq = k["s"] + 1 if k else 1
        items: list[DeadLetterOut] = []
        while len(items) <= limit:
            try:
                msg = await js.get_msg(
                    ctx.layout.dlq, seq=seq, subject=ctx.layout.subject(subjects.DLQ_ALL), next=True
                )
            except NotFoundError:
                break
            letter = _letter(msg.seq or seq, msg.data or b"")
            if letter is not None:
                items.append(letter)
            seq = (msg.seq or seq) + 1
        return items

    async def stream_state() -> tuple[int, int]:
        """(first sequence, messages) of the DLQ stream; (1, 0) before anything declared it."""
        try:
            state = (await js.stream_info(ctx.layout.dlq)).state
        except NotFoundError:
            return 1, 0
        return state.first_seq, state.messages

    async def before(k: dict[str, Any]) -> list[DeadLetterOut]:
        first, _ = await stream_state()
        items: list[DeadLetterOut] = []
        seq = k["s"] - 1
        while seq >= max(first, 1) and len(items) <= limit:
            try:
                msg = await js.get_msg(ctx.layout.dlq, seq=seq)
            except NotFoundError:
                seq -= 1
                continue
            letter = _letter(seq, msg.data or b"")
            if letter is not None:
                items.append(letter)
            seq -= 1
        return items

    found = await pagination.window(key, limit, after, before)
    items = list(found.rows)
    total = (await stream_state())[1] if with_total else None
    meta = PageMeta(
        next_cursor=pagination.encode(_CURSOR, s=items[-1].seq)
        if found.has_next and items
        else None,
        has_more=found.has_next,
        prev_cursor=pagination.encode_before(_CURSOR, s=items[0].seq)
        if found.has_prev and items
        else None,
        total=total,
    )
    return Page(data=items, meta=meta)


async def replay(ctx: GatewayContext, seq: int) -> ReplayAccepted:
    js = (await ctx.nats.client()).jetstream()
    try:
        msg = await js.get_msg(ctx.layout.dlq, seq=seq)
    except NotFoundError as err:
        raise NotFound("no dead letter with this sequence", code="dead-letter-not-found") from err
    letter = _letter(seq, msg.data or b"")
    # The letter records the subject as delivered, so with this deployment's stream prefix.
    if letter is None or not subjects.unprefixed(letter.subject).startswith(
        (subjects.CMD_PREFIX, subjects.EVT_PREFIX)
    ):
        raise InvalidInput("this letter cannot be replayed", code="dead-letter-unreplayable")
    new_id = str(uuid.uuid4())
    subject = ctx.layout.subject(subjects.unprefixed(letter.subject))
    await js.publish(subject, json.dumps(letter.envelope).encode(), headers={"Nats-Msg-Id": new_id})
    await js.delete_msg(ctx.layout.dlq, seq)
    log.info("dead_letter_replayed", seq=seq, consumer=letter.consumer, subject=letter.subject)
    return ReplayAccepted(id=new_id, seq=seq, subject=letter.subject)


async def renormalize(session: AsyncSession, account_id: int | None) -> RenormalizeAccepted:
    targets = await repo.accounts(session, account_id)
    if account_id is not None and not targets:
        raise NotFound("no such account", code="account-not-found")
    for target, generation in targets:
        await publish(
            session,
            subjects.PHONES_RENORMALIZE,
            RenormalizePhones(account_id=target),
            account_id=target,
            generation=generation,
        )
    await session.commit()
    return RenormalizeAccepted(accounts=len(targets))
