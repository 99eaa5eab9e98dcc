"""contact.created / updated / deleted / restored, queued in the writing transaction (issue 18).

Other systems, and the dedup service's incremental scan, learn of contacts changed through
the API from these events; the outbox publishes them after the commit, so an event is sent
exactly when its change is.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.events import subjects
from kith_common.events.payloads.contacts import (
    ContactCreated,
    ContactDeleted,
    ContactRestored,
    ContactUpdated,
)
from kith_common.fence import current_generation
from kith_gateway.services.publishing import publish

__all__ = ["contact_changed", "contact_updated"]

_PAYLOADS: dict[str, type[ContactCreated | ContactDeleted | ContactRestored]] = {
    subjects.CONTACT_CREATED: ContactCreated,
    subjects.CONTACT_DELETED: ContactDeleted,
    subjects.CONTACT_RESTORED: ContactRestored,
}


async def contact_changed(
    session: AsyncSession, account_id: int, subject: str, contact_id: int
) -> None:
    """Queue contact.created, contact.deleted or contact.restored."""
    await publish(
        session,
        subject,
        _PAYLOADS[subject](contact_id=contact_id),
        account_id=account_id,
        generation=await current_generation(session, account_id),
    )


async def contact_updated(
    session: AsyncSession, account_id: int, contact_id: int, changed: Iterable[str]
) -> None:
    """Queue contact.updated with the names of what changed."""
    await publish(
        session,
        subjects.CONTACT_UPDATED,
        ContactUpdated(contact_id=contact_id, changed=sorted(set(changed))),
        account_id=account_id,
        generation=await current_generation(session, account_id),
    )
