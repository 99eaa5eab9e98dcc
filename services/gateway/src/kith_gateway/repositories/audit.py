"""audit_logs: append-only entries written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import AuditLog


async def add(
    session: AsyncSession,
    *,
    account_id: int,
    user_id: int | None,
    user_name: str,
    event: str,
    contact_id: int | None = None,
    contact_name: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        insert(AuditLog).values(
            account_id=account_id,
            user_id=user_id,
            user_name=user_name,
            event=event,
            contact_id=contact_id,
            contact_name=contact_name,
            metadata_=metadata or {},
        )
    )
