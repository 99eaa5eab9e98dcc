"""Writes on records: notes (create, edit, delete) and a task's status (editor)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from kith_gateway.deps import Editor, Session
from kith_gateway.schemas.records import NoteIn, NoteOut, NotePatch, TaskOut, TaskPatch
from kith_gateway.services import notes

router = APIRouter()

ItemId = Annotated[int, Path(ge=1)]


@router.post("/notes", response_model=NoteOut, status_code=status.HTTP_201_CREATED, tags=["notes"])
async def create_note(session: Session, caller: Editor, body: NoteIn) -> NoteOut:
    return await notes.create_note(session, caller, body)


@router.patch("/notes/{item_id}", response_model=NoteOut, tags=["notes"])
async def patch_note(session: Session, caller: Editor, item_id: ItemId, body: NotePatch) -> NoteOut:
    return await notes.patch_note(session, caller, item_id, body)


@router.delete("/notes/{item_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["notes"])
async def delete_note(session: Session, caller: Editor, item_id: ItemId) -> Response:
    await notes.delete_note(session, caller, item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch("/tasks/{item_id}", response_model=TaskOut, tags=["tasks"])
async def set_task_status(
    session: Session, caller: Editor, item_id: ItemId, body: TaskPatch
) -> TaskOut:
    """Mark a task done (`{"status": "completed"}`) or open it again."""
    return await notes.set_task_status(session, caller, item_id, body)
