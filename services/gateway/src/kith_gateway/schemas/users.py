"""Users, API tokens and invitations of the account (admin); secrets are shown once."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from kith_gateway.schemas.common import Strict

RoleName = Literal["admin", "editor", "viewer"]
Email = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


class UserIn(Strict):
    email: str = Email
    role: RoleName
    display_name: str | None = Field(default=None, max_length=200)


class UserPatch(Strict):
    role: RoleName | None = None
    display_name: str | None = Field(default=None, max_length=200)


class UserOut(BaseModel):
    id: int
    email: str
    display_name: str | None
    role: RoleName
    disabled_at: dt.datetime | None
    created_at: dt.datetime


class TokenIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    user_id: int | None = Field(default=None, ge=1, le=2**62, description="Default: yourself.")
    expires_at: dt.datetime | None = None


class TokenOut(BaseModel):
    id: int
    name: str
    user_id: int
    token_prefix: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The secret, shown this once; only its hash is stored.")


class UserCreated(BaseModel):
    user: UserOut
    token: TokenCreated


class InvitationIn(Strict):
    email: str = Email
    role: RoleName


class InvitationOut(BaseModel):
    id: int
    email: str
    role: RoleName
    expires_at: dt.datetime
    accepted_at: dt.datetime | None
    created_at: dt.datetime


class InvitationCreated(InvitationOut):
    token: str = Field(description="The one-time invitation token (expires in 7 days).")


class InvitationAccept(Strict):
    token: str = Field(min_length=1, max_length=200)
    display_name: str = Field(min_length=1, max_length=200)


class InvitationAccepted(BaseModel):
    user: UserOut
    token: TokenCreated
