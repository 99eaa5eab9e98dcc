"""/v1/users and /v1/tokens (admin): the account's users and their API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from kith_gateway.deps import Admin, Session
from kith_gateway.pagination import DEFAULT_LIMIT, Cursor, Limit
from kith_gateway.schemas.common import Page
from kith_gateway.schemas.users import (
    TokenCreated,
    TokenIn,
    TokenOut,
    UserCreated,
    UserIn,
    UserOut,
    UserPatch,
)
from kith_gateway.services import users

router = APIRouter(tags=["users"])

Id = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/users", response_model=Page[UserOut])
async def list_users(
    session: Session, caller: Admin, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[UserOut]:
    return await users.list_users(session, caller, cursor, limit)


@router.post("/users", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
async def create_user(session: Session, caller: Admin, body: UserIn) -> UserCreated:
    return await users.create_user(session, caller, body)


@router.patch("/users/{user_id}", response_model=UserOut)
async def patch_user(session: Session, caller: Admin, user_id: Id, body: UserPatch) -> UserOut:
    return await users.patch_user(session, caller, user_id, body)


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(session: Session, caller: Admin, user_id: Id) -> Response:
    await users.delete_user(session, caller, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/tokens", response_model=Page[TokenOut])
async def list_tokens(
    session: Session, caller: Admin, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[TokenOut]:
    return await users.list_tokens(session, caller, cursor, limit)


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
async def create_token(session: Session, caller: Admin, body: TokenIn) -> TokenCreated:
    return await users.create_token(session, caller, body)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(session: Session, caller: Admin, token_id: Id) -> Response:
    await users.revoke_token(session, caller, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
