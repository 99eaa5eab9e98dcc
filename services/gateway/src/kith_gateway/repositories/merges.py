"""contact_merges reads, and whether a merge command is still queued in the outbox."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import ContactMerge, Outbox
from kith_common.events.subjects import CONTACTS_MERGE


async def get(session: AsyncSession, account_id: int, merge_id: uuid.UUID) -> ContactMerge | None:
    return await session.scalar(
        select(ContactMerge).where(
            ContactMerge.account_id == account_id, ContactMerge.merge_id == merge_id
        )
    )


async def queued(session: AsyncSession, account_id: int, merge_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Outbox.id).where(
            Outbox.id == merge_id, Outbox.account_id == account_id, Outbox.subject == CONTACTS_MERGE
        )
    )
    return found is not None
