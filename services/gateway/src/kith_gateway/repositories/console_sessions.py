"""console_sessions: the console's sign-ins, by the SHA-256 of the cookie's session secret."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import ConsoleSession


async def add(
    session: AsyncSession, session_id: bytes, token_hash: bytes, expires_at: dt.datetime
) -> None:
    await session.execute(
        insert(ConsoleSession).values(id=session_id, token_hash=token_hash, expires_at=expires_at)
    )


async def token_of(session: AsyncSession, session_id: bytes) -> bytes | None:
    """The token hash of a live (unrevoked, unexpired) session."""
    found: bytes | None = await session.scalar(
        select(ConsoleSession.token_hash).where(
            ConsoleSession.id == session_id,
            ConsoleSession.revoked_at.is_(None),
            ConsoleSession.expires_at > func.now(),
        )
    )
    return found


async def revoke(session: AsyncSession, session_id: bytes) -> None:
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == session_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def prune(session: AsyncSession) -> None:
    """Forget sessions that ended (expired, or signed out a day ago)."""
    await session.execute(
        delete(ConsoleSession).where(
            or_(
                ConsoleSession.expires_at < func.now(),
                ConsoleSession.revoked_at < func.now() - dt.timedelta(days=1),
            )
        )
    )
