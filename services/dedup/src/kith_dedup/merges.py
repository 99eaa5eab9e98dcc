"""The merge command as the dedup service executes it (dedup.md §5.1).

A refused merge (MergeConflict) is a result: the merge's writes are rolled back to a
savepoint, a failed contact_merges row and `kith.evt.contacts.merge_failed` are written in the
message's transaction, and the message is acked. Database faults propagate, so the wrapper
rolls back and retries with delay.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.events.payloads.contacts import MergeContacts
from kith_common.merge import MergeConflict, merge_contacts, record_merge_failure
from kith_dedup.metrics import MERGES

__all__ = ["execute_merge"]


async def execute_merge(
    session: AsyncSession,
    command: MergeContacts,
    *,
    merge_id: uuid.UUID,
    account_id: int,
    generation: int | None,
    correlation_id: uuid.UUID | None,
) -> str:
    """Apply the command in `session`; returns `done` or the refusal code."""
    try:
        async with session.begin_nested():
            await merge_contacts(
                session,
                account_id=account_id,
                survivor_id=command.survivor_id,
                loser_id=command.loser_id,
                field_choices={str(k): str(v) for k, v in command.field_choices.items()},
                source="api",
                merge_id=merge_id,
                requested_by_id=command.requested_by,
                candidate_id=command.candidate_id,
                generation=generation,
                correlation_id=correlation_id,
            )
    except MergeConflict as refused:
        await record_merge_failure(
            session,
            account_id=account_id,
            merge_id=merge_id,
            survivor_id=command.survivor_id,
            loser_id=command.loser_id,
            code=refused.code,
            requested_by_id=command.requested_by,
            generation=generation,
            correlation_id=correlation_id,
        )
        MERGES.labels("failed").inc()
        return refused.code
    MERGES.labels("done").inc()
    return "done"
