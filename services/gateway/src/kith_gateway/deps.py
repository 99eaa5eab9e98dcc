"""`Annotated` dependencies: the request's session, the caller, and role checks.

Missing or unknown token → 401; a valid token without the role → 403; an operator token
reaches `/v1/admin/*` only, and an account token never does (gateway.md). `last_used_at` is
written at most once a minute per token, so reads stay read-only on the hot path. A live
token's principal is cached for 5 s (`kith_gateway.principals` says what that allows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.accounts import hash_token
from kith_common.errors import Forbidden, Unauthenticated
from kith_gateway.context import GatewayContext
from kith_gateway.principals import PrincipalCache
from kith_gateway.repositories import auth as repo

Role = Literal["viewer", "editor", "admin"]
_RANK: dict[str, int] = {"viewer": 0, "editor": 1, "admin": 2}
_TOUCH_EVERY = dt.timedelta(minutes=1)
_bearer = HTTPBearer(auto_error=False, description="An API token (`kith_...`).")


class MissingToken(Unauthenticated):
    code = "unauthenticated"


@dataclass(frozen=True, slots=True)
class Principal:
    """An account user acting through one of their tokens."""

    account_id: int
    user_id: int
    role: str
    email: str
    display_name: str | None
    token_id: int

    @property
    def name(self) -> str:
        return self.display_name or self.email


@dataclass(frozen=True, slots=True)
class Operator:
    token_id: int


PRINCIPALS: PrincipalCache[Principal] = PrincipalCache()


def forget_principals() -> None:
    """After a commit that revokes, disables, removes or re-roles: no stale entry here."""
    PRINCIPALS.forget_all()


def get_context(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.kith
    return ctx


Context = Annotated[GatewayContext, Depends(get_context)]


_READS = frozenset({"GET", "HEAD"})


async def get_session(ctx: Context, request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: reads from the autocommit read pool, writes in a transaction.

    Services commit what they write; an unfinished write rolls back when the session closes.
    """
    sessions = ctx.reads if request.method in _READS else ctx.sessions
    async with sessions() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("a bearer token is required")
    return credentials.credentials


async def get_principal(session: Session, credentials: Credentials) -> Principal:
    return await authenticate(session, credentials)


async def authenticate(
    session: AsyncSession, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The account user behind the bearer token (401 if none, 403 for an operator token)."""
    token = _token(credentials)
    digest = hash_token(token)
    principal = await principal_for(session, digest)
    if principal is None:
        if await repo.operator_token_id(session, digest) is not None:
            raise Forbidden("operator tokens reach /v1/admin/* only", code="forbidden")
        raise Unauthenticated("the token is not valid")
    return principal


async def principal_for(session: AsyncSession, token_hash: bytes) -> Principal | None:
    """The user of a live API token (by hash), or None; touches `last_used_at` once a minute."""
    cached = PRINCIPALS.get(token_hash)
    if cached is not None:
        return cached
    now = dt.datetime.now(dt.UTC)
    owner = await repo.api_token_owner(session, token_hash, now)
    if owner is None:
        return None
    if owner.last_used_at is None or now - owner.last_used_at > _TOUCH_EVERY:
        await repo.touch_api_token(session, owner.token_id, now)
        await session.commit()
    principal = Principal(
        account_id=owner.account_id,
        user_id=owner.user_id,
        role=owner.role,
        email=owner.email,
        display_name=owner.display_name,
        token_id=owner.token_id,
    )
    PRINCIPALS.put(token_hash, principal, expires_at=owner.expires_at)
    return principal


async def get_operator(session: Session, credentials: Credentials) -> Operator:
    token = _token(credentials)
    digest = hash_token(token)
    token_id = await repo.operator_token_id(session, digest)
    if token_id is None:
        if await repo.api_token_owner(session, digest, dt.datetime.now(dt.UTC)) is not None:
            raise Forbidden("an operator token is required", code="forbidden")
        raise Unauthenticated("the token is not valid")
    await repo.touch_operator_token(session, token_id, dt.datetime.now(dt.UTC))
    await session.commit()
    return Operator(token_id=token_id)


def check_role(principal: Principal, role: Role) -> Principal:
    if _RANK.get(principal.role, -1) < _RANK[role]:
        raise Forbidden(f"this needs the {role} role", code="forbidden")
    return principal


def require(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        return check_role(principal, role)

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Editor = Annotated[Principal, Depends(require("editor"))]
Admin = Annotated[Principal, Depends(require("admin"))]
OperatorCaller = Annotated[Operator, Depends(get_operator)]
