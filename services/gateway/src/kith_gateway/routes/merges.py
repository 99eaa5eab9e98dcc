"""/v1/merges: preview (any role), request and follow a merge (editor)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from kith_gateway.deps import Editor, Session, Viewer
from kith_gateway.schemas.duplicates import MergeAccepted, MergeIn, MergeOut, MergeReportOut
from kith_gateway.services import merges

router = APIRouter(prefix="/merges", tags=["merges"])


@router.post("/preview", response_model=MergeReportOut)
async def preview_merge(session: Session, caller: Viewer, body: MergeIn) -> MergeReportOut:
    return await merges.preview(session, caller, body)


@router.post("", response_model=MergeAccepted, status_code=status.HTTP_202_ACCEPTED)
async def request_merge(session: Session, caller: Editor, body: MergeIn) -> MergeAccepted:
    return await merges.request_merge(session, caller, body)


@router.get("/{merge_id}", response_model=MergeOut)
async def get_merge(session: Session, caller: Editor, merge_id: uuid.UUID) -> MergeOut:
    return await merges.get_merge(session, caller, merge_id)
