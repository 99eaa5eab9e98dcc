"""/v1/invitations: invite (admin), revoke (admin), accept (the invitation token itself)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from kith_gateway.deps import Admin, Session
from kith_gateway.schemas.users import (
    InvitationAccept,
    InvitationAccepted,
    InvitationCreated,
    InvitationIn,
)
from kith_gateway.services import users

router = APIRouter(prefix="/invitations", tags=["users"])


@router.post("", response_model=InvitationCreated, status_code=status.HTTP_201_CREATED)
async def invite(session: Session, caller: Admin, body: InvitationIn) -> InvitationCreated:
    return await users.invite(session, caller, body)


@router.post("/accept", response_model=InvitationAccepted, status_code=status.HTTP_201_CREATED)
async def accept_invitation(session: Session, body: InvitationAccept) -> InvitationAccepted:
    return await users.accept(session, body)


@router.delete("/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_invitation(
    session: Session, caller: Admin, invitation_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Response:
    await users.revoke_invitation(session, caller, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
