"""/v1/duplicates and /v1/contacts/{id}/duplicates (dedup.md §4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from kith_gateway.deps import Admin, Editor, Session, Viewer
from kith_gateway.pagination import DEFAULT_LIMIT, Cursor, Limit
from kith_gateway.schemas.common import Page
from kith_gateway.schemas.duplicates import (
    CandidateCounts,
    CandidateOut,
    CandidateSort,
    CandidateStatus,
    ScanAccepted,
)
from kith_gateway.services import duplicates

router = APIRouter(tags=["duplicates"])

Id = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/duplicates", response_model=Page[CandidateOut])
async def list_duplicates(
    session: Session,
    caller: Viewer,
    status_: Annotated[CandidateStatus, Query(alias="status")] = "pending",
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    sort: Annotated[
        CandidateSort,
        Query(
            description="`confidence` (default): most likely duplicates first; "
            "`score`: the seed's order (score DESC). A cursor only continues its own order."
        ),
    ] = "confidence",
) -> Page[CandidateOut]:
    return await duplicates.list_candidates(session, caller, status_, cursor, limit, sort)


@router.get("/duplicates/counts", response_model=CandidateCounts)
async def duplicate_counts(session: Session, caller: Viewer) -> CandidateCounts:
    return await duplicates.counts(session, caller)


@router.get("/contacts/{contact_id}/duplicates", response_model=Page[CandidateOut])
async def contact_duplicates(
    session: Session,
    caller: Viewer,
    contact_id: Id,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[CandidateOut]:
    return await duplicates.of_contact(session, caller, contact_id, cursor, limit)


@router.post("/duplicates/scan", response_model=ScanAccepted, status_code=status.HTTP_202_ACCEPTED)
async def scan_duplicates(session: Session, caller: Admin) -> ScanAccepted:
    return await duplicates.scan(session, caller)


@router.post("/duplicates/{candidate_id}/dismiss", response_model=CandidateOut)
async def dismiss_duplicate(session: Session, caller: Editor, candidate_id: Id) -> CandidateOut:
    return await duplicates.dismiss(session, caller, candidate_id)
