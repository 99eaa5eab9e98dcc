"""The writes a user expects on what people edit most: notes (create, edit, delete) and
marking a task done.

Like every write of account data they pass `guards.writable` (fence, 409 while a reset
runs); the contact must be the account's and not in the trash (a trashed contact is
read-only until restored). A note's change is a change of its contact (`updated_at`, audited
in the same transaction).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import Contact, Note, Task
from kith_gateway.deps import Principal
from kith_gateway.repositories import notes as repo
from kith_gateway.schemas.records import NoteIn, NoteOut, NotePatch, TaskOut, TaskPatch
from kith_gateway.services.contact_fields import touch_contact
from kith_gateway.services.contact_rows import load_live
from kith_gateway.services.guards import writable
from kith_gateway.services.records import BY_PATH, columns, load

_NOTES = BY_PATH["notes"]
_TASKS = BY_PATH["tasks"]


async def _note_for_edit(
    session: AsyncSession, principal: Principal, note_id: int
) -> tuple[Note, Contact]:
    await writable(session, principal.account_id)
    note: Note = await load(session, principal.account_id, _NOTES, note_id)
    return note, await load_live(session, principal.account_id, note.contact_id)


async def create_note(session: AsyncSession, principal: Principal, body: NoteIn) -> NoteOut:
    await writable(session, principal.account_id)
    contact = await load_live(session, principal.account_id, body.contact_id)
    note = await repo.insert_note(
        session,
        account_id=principal.account_id,
        contact_id=contact.id,
        body=body.body,
        favorite=body.favorite,
        is_private=body.is_private,
        author_id=principal.user_id,
    )
    await touch_contact(session, principal, contact, "note_added")
    await session.commit()
    return NoteOut.model_validate(columns(note))


async def patch_note(
    session: AsyncSession, principal: Principal, note_id: int, body: NotePatch
) -> NoteOut:
    note, contact = await _note_for_edit(session, principal, note_id)
    values = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if values:
        await repo.update_note(session, note, values)
        await touch_contact(session, principal, contact, "note_updated")
        await session.commit()
    return NoteOut.model_validate(columns(note))


async def delete_note(session: AsyncSession, principal: Principal, note_id: int) -> None:
    note, contact = await _note_for_edit(session, principal, note_id)
    await repo.delete_note(session, principal.account_id, note.id)
    await touch_contact(session, principal, contact, "note_deleted")
    await session.commit()


async def set_task_status(
    session: AsyncSession, principal: Principal, task_id: int, body: TaskPatch
) -> TaskOut:
    """`completed` stamps `completed_at` (kept if it was already done); any other clears it."""
    await writable(session, principal.account_id)
    task: Task = await load(session, principal.account_id, _TASKS, task_id)
    if task.contact_id is not None:
        await load_live(session, principal.account_id, task.contact_id)
    if task.status != body.status:
        done = body.status == "completed"
        await repo.update_task(
            session,
            task,
            {"status": body.status, "completed_at": dt.datetime.now(dt.UTC) if done else None},
        )
        await session.commit()
    return TaskOut.model_validate(columns(task))
