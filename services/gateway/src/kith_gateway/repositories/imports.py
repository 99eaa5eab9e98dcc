"""imports reads for the history, and connection-check rows (the importer deletes them).

The console's import wizard keeps its draft (URL and encrypted key) in a connection-check row
too: same columns, same TTL sweep, same reset domain; no importer is ever asked about it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import Import, ImportConnectionCheck


async def page(
    session: AsyncSession,
    account_id: int,
    before_id: int | None,
    limit: int,
    *,
    newer_than: int | None = None,
) -> Sequence[Import]:
    """Up to limit + 1 imports, newest first, older than `before_id`; or, with `newer_than`,
    the limit + 1 just newer than it, nearest first (the list read backwards)."""
    query = select(Import).where(Import.account_id == account_id)
    if newer_than is not None:
        query = query.where(Import.id > newer_than).order_by(Import.id)
        return (await session.scalars(query.limit(limit + 1))).all()
    if before_id is not None:
        query = query.where(Import.id < before_id)
    return (await session.scalars(query.order_by(Import.id.desc()).limit(limit + 1))).all()


async def count(session: AsyncSession, account_id: int) -> int:
    """How many imports the account has (the console's "of N")."""
    query = select(func.count()).select_from(Import).where(Import.account_id == account_id)
    return int(await session.scalar(query) or 0)


async def add_check(
    session: AsyncSession,
    *,
    check_id: uuid.UUID,
    account_id: int,
    api_url: str,
    api_key_encrypted: bytes,
    expires_at: dt.datetime,
) -> None:
    await session.execute(
        insert(ImportConnectionCheck).values(
            id=check_id,
            account_id=account_id,
            api_url=api_url,
            api_key_encrypted=api_key_encrypted,
            expires_at=expires_at,
        )
    )


async def drop_check(session: AsyncSession, check_id: uuid.UUID) -> None:
    await session.execute(delete(ImportConnectionCheck).where(ImportConnectionCheck.id == check_id))


async def take_draft(
    session: AsyncSession, draft_id: uuid.UUID, account_id: int
) -> ImportConnectionCheck | None:
    """Delete and return an unexpired draft of this account (rolled back if the start fails)."""
    found: ImportConnectionCheck | None = await session.scalar(
        delete(ImportConnectionCheck)
        .where(
            ImportConnectionCheck.id == draft_id,
            ImportConnectionCheck.account_id == account_id,
            ImportConnectionCheck.expires_at > func.now(),
        )
        .returning(ImportConnectionCheck)
    )
    return found
