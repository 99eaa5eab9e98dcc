"""Users, tokens and invitations (admin); every change writes its audit entry.

Not account data: a running reset does not block these (reset.md §2). Secrets (API tokens,
invitation tokens) are returned once and stored only as their SHA-256.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.accounts import hash_token, issue_api_token, new_token
from kith_common.db.models import AccountInvitation, ApiToken, User
from kith_common.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from kith_gateway import pagination
from kith_gateway.deps import Principal, forget_principals
from kith_gateway.repositories import audit
from kith_gateway.repositories import users as repo
from kith_gateway.schemas.common import Page, PageMeta
from kith_gateway.schemas.users import (
    InvitationAccept,
    InvitationAccepted,
    InvitationCreated,
    InvitationIn,
    InvitationOut,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserCreated,
    UserIn,
    UserOut,
    UserPatch,
)

INVITATION_TTL = dt.timedelta(days=7)


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


def token_out(token: ApiToken) -> TokenOut:
    return TokenOut.model_validate(token, from_attributes=True)


def _page(rows: list[Any], limit: int, kind: str) -> tuple[list[Any], PageMeta]:
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, PageMeta(
        next_cursor=pagination.encode(kind, i=rows[-1].id) if more else None, has_more=more
    )


async def _audit(
    session: AsyncSession, principal: Principal | None, account_id: int, event: str, **meta: Any
) -> None:
    await audit.add(
        session,
        account_id=account_id,
        user_id=principal.user_id if principal else meta.get("user_id"),
        user_name=principal.name if principal else str(meta.get("user_name", "")),
        event=event,
        metadata={k: v for k, v in meta.items() if k != "user_name"},
    )


async def _new_token(session: AsyncSession, user: User, name: str) -> TokenCreated:
    secret = await issue_api_token(session, user, name)
    row = await repo.token_by_hash(session, user.account_id, hash_token(secret))
    return TokenCreated(**token_out(row).model_dump(), token=secret)


# --- users -----------------------------------------------------------------------------------


async def list_users(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> Page[UserOut]:
    key = pagination.decode(cursor, "users", {"i": int})
    rows, meta = _page(
        list(
            await repo.page_users(session, principal.account_id, key["i"] if key else None, limit)
        ),
        limit,
        "users",
    )
    return Page(data=[user_out(u) for u in rows], meta=meta)


async def create_user(session: AsyncSession, principal: Principal, body: UserIn) -> UserCreated:
    if await repo.email_taken(session, body.email):
        raise Conflict("a user with this email already exists", code="email-taken")
    user = await repo.add_user(
        session,
        {
            "account_id": principal.account_id,
            "email": body.email,
            "role": body.role,
            "display_name": body.display_name,
        },
    )
    token = await _new_token(session, user, "first token")
    await _audit(session, principal, principal.account_id, "user_joined", new_user_id=user.id)
    await _audit(session, principal, principal.account_id, "token_created", token_id=token.id)
    await session.commit()
    return UserCreated(user=user_out(user), token=token)


async def _last_admin_guard(session: AsyncSession, account_id: int, user: User) -> None:
    if user.role == "admin" and await repo.admins(session, account_id) <= 1:
        raise Conflict("the account must keep at least one admin", code="last-admin")


async def patch_user(
    session: AsyncSession, principal: Principal, user_id: int, body: UserPatch
) -> UserOut:
    user = await repo.get_user(session, principal.account_id, user_id, lock=True)
    if user is None:
        raise NotFound("no such user", code="user-not-found")
    values = {k: v for k, v in body.model_dump(exclude_unset=True).items() if k != "role" or v}
    if values.get("role") and values["role"] != user.role:
        if user.role == "admin":
            await _last_admin_guard(session, principal.account_id, user)
        await _audit(
            session,
            principal,
            principal.account_id,
            "user_role_changed",
            target_user_id=user.id,
            old=user.role,
            new=values["role"],
        )
    if values:
        await repo.update_user(session, user, values)
        await session.commit()
        forget_principals()
    return user_out(user)


async def delete_user(session: AsyncSession, principal: Principal, user_id: int) -> None:
    user = await repo.get_user(session, principal.account_id, user_id, lock=True)
    if user is None:
        raise NotFound("no such user", code="user-not-found")
    await _last_admin_guard(session, principal.account_id, user)
    await repo.delete_user(session, principal.account_id, user.id)
    await _audit(session, principal, principal.account_id, "user_removed", target_user_id=user.id)
    await session.commit()
    forget_principals()


# --- tokens ----------------------------------------------------------------------------------


async def list_tokens(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> Page[TokenOut]:
    key = pagination.decode(cursor, "tokens", {"i": int})
    rows, meta = _page(
        list(
            await repo.page_tokens(session, principal.account_id, key["i"] if key else None, limit)
        ),
        limit,
        "tokens",
    )
    return Page(data=[token_out(t) for t in rows], meta=meta)


async def create_token(session: AsyncSession, principal: Principal, body: TokenIn) -> TokenCreated:
    if body.expires_at is not None and body.expires_at <= dt.datetime.now(dt.UTC):
        raise InvalidInput(
            "the expiry is in the past",
            errors=[{"field": "expires_at", "message": "must be in the future"}],
        )
    user = await repo.get_user(session, principal.account_id, body.user_id or principal.user_id)
    if user is None:
        raise NotFound("no such user", code="user-not-found")
    token = await _new_token(session, user, body.name)
    if body.expires_at is not None:
        row = await repo.get_token(session, principal.account_id, token.id)
        assert row is not None
        await repo.set_token(session, row, {"expires_at": body.expires_at})
        token = TokenCreated(**token_out(row).model_dump(), token=token.token)
    await _audit(session, principal, principal.account_id, "token_created", token_id=token.id)
    await session.commit()
    return token


async def revoke_token(session: AsyncSession, principal: Principal, token_id: int) -> None:
    token = await repo.get_token(session, principal.account_id, token_id)
    if token is None:
        raise NotFound("no such token", code="token-not-found")
    if token.revoked_at is None:
        await repo.set_token(session, token, {"revoked_at": dt.datetime.now(dt.UTC)})
        await _audit(session, principal, principal.account_id, "token_revoked", token_id=token.id)
        await session.commit()
        forget_principals()


# --- invitations -----------------------------------------------------------------------------


def invitation_out(row: AccountInvitation) -> InvitationOut:
    return InvitationOut.model_validate(row, from_attributes=True)


async def invite(
    session: AsyncSession, principal: Principal, body: InvitationIn
) -> InvitationCreated:
    if await repo.email_taken(session, body.email):
        raise Conflict("a user with this email already exists", code="email-taken")
    if await repo.open_invitation(session, principal.account_id, body.email) is not None:
        raise Conflict("this email already has an open invitation", code="invitation-exists")
    secret = new_token()
    row = await repo.add_invitation(
        session,
        {
            "account_id": principal.account_id,
            "email": body.email,
            "role": body.role,
            "token_hash": hash_token(secret),
            "invited_by_id": principal.user_id,
            "expires_at": dt.datetime.now(dt.UTC) + INVITATION_TTL,
        },
    )
    await _audit(session, principal, principal.account_id, "invitation_sent", invitation_id=row.id)
    await session.commit()
    return InvitationCreated(**invitation_out(row).model_dump(), token=secret)


async def revoke_invitation(
    session: AsyncSession, principal: Principal, invitation_id: int
) -> None:
    row = await repo.get_invitation(session, principal.account_id, invitation_id)
    if row is None:
        raise NotFound("no such invitation", code="invitation-not-found")
    if row.accepted_at is not None:
        raise Conflict("the invitation was already accepted", code="invitation-accepted")
    await repo.delete_invitation(session, row.id)
    await session.commit()


async def accept(session: AsyncSession, body: InvitationAccept) -> InvitationAccepted:
    """The invitation token is the credential: unknown, used or expired → 401."""
    now = dt.datetime.now(dt.UTC)
    row = await repo.invitation_by_hash(session, hash_token(body.token))
    if row is None or row.accepted_at is not None or row.expires_at <= now:
        raise Unauthenticated("the invitation is not valid", code="invitation-invalid")
    if await repo.email_taken(session, row.email):
        raise Conflict("a user with this email already exists", code="email-taken")
    user = await repo.add_user(
        session,
        {
            "account_id": row.account_id,
            "email": row.email,
            "role": row.role,
            "display_name": body.display_name,
        },
    )
    await repo.mark_accepted(session, row, now)
    token = await _new_token(session, user, "first token")
    for event in ("invitation_accepted", "user_joined"):
        await _audit(
            session,
            None,
            row.account_id,
            event,
            user_id=user.id,
            user_name=body.display_name,
            invitation_id=row.id,
        )
    await session.commit()
    return InvitationAccepted(user=user_out(user), token=token)
