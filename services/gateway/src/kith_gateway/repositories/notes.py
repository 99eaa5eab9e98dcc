"""notes and tasks: the user edits the API allows on them (reads are in `records`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import Note, Task


async def insert_note(session: AsyncSession, **values: Any) -> Note:
    note = Note(**values)
    session.add(note)
    await session.flush()
    return note


async def update_note(session: AsyncSession, note: Note, values: dict[str, Any]) -> None:
    await session.execute(
        update(Note)
        .where(Note.account_id == note.account_id, Note.id == note.id)
        .values(**values, updated_at=func.now())
    )
    await session.refresh(note)


async def delete_note(session: AsyncSession, account_id: int, note_id: int) -> None:
    await session.execute(delete(Note).where(Note.account_id == account_id, Note.id == note_id))


async def update_task(session: AsyncSession, task: Task, values: dict[str, Any]) -> None:
    await session.execute(
        update(Task)
        .where(Task.account_id == task.account_id, Task.id == task.id)
        .values(**values, updated_at=func.now())
    )
    await session.refresh(task)
