"""/console/account (settings, users, tokens) and /console/resets (the danger zone)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import Response
from pydantic import ValidationError

from kith_common.errors import Conflict, InvalidInput
from kith_gateway.console.access import (
    FORM_ERRORS,
    NoStoreRoute,
    Visitor,
    field_errors,
    html,
    page,
    see_other,
)
from kith_gateway.console.session_routes import ConsoleCookie
from kith_gateway.deps import Context, Session, check_role
from kith_gateway.pagination import DEFAULT_LIMIT
from kith_gateway.schemas.account import AccountPatch
from kith_gateway.schemas.users import TokenIn
from kith_gateway.services import accounts, resets, users

router = APIRouter(route_class=NoStoreRoute)
Id = Annotated[int, Path(ge=1, le=2**62)]
Csrf = Annotated[str, Form()]
PHONE_FORMATS = ("e164", "national", "international", "raw")


async def _account_page(
    session: Session, v: Visitor, status: int = 200, **extra: object
) -> Response:
    account = await accounts.get_account(session, v.user)
    regions = await accounts.phone_regions(session, v.user, None)
    people = tokens = None
    if v.can("admin"):
        people = (await users.list_users(session, v.user, None, DEFAULT_LIMIT)).data
        tokens = (await users.list_tokens(session, v.user, None, DEFAULT_LIMIT)).data
    values = {"errors": {}, "new_token": None, **extra}
    return html(
        "account.html",
        v,
        status,
        title="Account",
        account=account,
        regions=regions,
        formats=PHONE_FORMATS,
        people=people,
        tokens=tokens,
        **values,
    )


@router.get("/account")
async def account_page(session: Session, ctx: Context, cookie: ConsoleCookie = None) -> Response:
    async def run(v: Visitor) -> Response:
        return await _account_page(session, v)

    return await page(session, ctx.settings.encryption_key(), cookie, run)


@router.post("/account")
async def save_settings(
    session: Session,
    ctx: Context,
    csrf: Csrf = "",
    name: Annotated[str, Form()] = "",
    locale: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
    phone_format: Annotated[str, Form()] = "",
    cookie: ConsoleCookie = None,
) -> Response:
    async def run(v: Visitor) -> Response:
        check_role(v.user, "admin")
        try:
            patch = AccountPatch.model_validate(
                {
                    "name": name.strip(),
                    "locale": locale.strip(),
                    "timezone": timezone.strip(),
                    "phone_format": phone_format,
                }
            )
            await accounts.patch_account(session, v.user, patch)
        except ValidationError as err:
            errors = {str(e["loc"][-1] if e["loc"] else "form"): e["msg"] for e in err.errors()}
            return await _account_page(session, v, FORM_ERRORS, errors=errors)
        except InvalidInput as err:
            return await _account_page(session, v, FORM_ERRORS, errors=field_errors(err))
        return see_other("/console/account?saved=1")

    return await page(session, ctx.settings.encryption_key(), cookie, run, csrf=csrf)


@router.post("/account/tokens")
async def new_token(
    session: Session,
    ctx: Context,
    csrf: Csrf = "",
    token_name: Annotated[str, Form()] = "",
    cookie: ConsoleCookie = None,
) -> Response:
    async def run(v: Visitor) -> Response:
        check_role(v.user, "admin")
        try:
            created = await users.create_token(session, v.user, TokenIn(name=token_name.strip()))
        except ValidationError:
            errors = {"token_name": "Give the token a name."}
            return await _account_page(session, v, FORM_ERRORS, errors=errors)
        return await _account_page(session, v, new_token=created)

    return await page(session, ctx.settings.encryption_key(), cookie, run, csrf=csrf)


@router.post("/account/tokens/{token_id}/revoke")
async def revoke(
    session: Session, ctx: Context, token_id: Id, csrf: Csrf = "", cookie: ConsoleCookie = None
) -> Response:
    async def run(v: Visitor) -> Response:
        await users.revoke_token(session, check_role(v.user, "admin"), token_id)
        return see_other("/console/account")

    return await page(session, ctx.settings.encryption_key(), cookie, run, csrf=csrf)


async def _resets_page(
    session: Session,
    ctx: Context,
    v: Visitor,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    found = await resets.list_resets(
        session, v.user, None, DEFAULT_LIMIT, ctx.settings.reset_stall_seconds
    )
    return html("resets.html", v, status, title="Reset", items=found.data, errors=errors or {})


@router.get("/resets")
async def reset_list(session: Session, ctx: Context, cookie: ConsoleCookie = None) -> Response:
    async def run(v: Visitor) -> Response:
        return await _resets_page(session, ctx, v)

    return await page(session, ctx.settings.encryption_key(), cookie, run)


@router.post("/resets")
async def request_reset(
    session: Session,
    ctx: Context,
    csrf: Csrf = "",
    confirm: Annotated[str, Form()] = "",
    cookie: ConsoleCookie = None,
) -> Response:
    async def run(v: Visitor) -> Response:
        check_role(v.user, "admin")
        try:
            accepted = await resets.request_reset(
                session, v.user, {"confirm": confirm}, ctx.settings.reset_stall_seconds
            )
        except InvalidInput:
            errors = {"confirm": "Type RESET, in capitals, to confirm."}
            return await _resets_page(session, ctx, v, FORM_ERRORS, errors)
        except Conflict as err:
            await session.rollback()
            return await _resets_page(session, ctx, v, FORM_ERRORS, {"confirm": err.detail})
        return see_other(f"/console/resets/{accepted.id}")

    return await page(session, ctx.settings.encryption_key(), cookie, run, csrf=csrf)


@router.get("/resets/{reset_id}")
async def reset_detail(
    session: Session, ctx: Context, reset_id: Id, cookie: ConsoleCookie = None
) -> Response:
    async def run(v: Visitor) -> Response:
        item = await resets.get_reset(session, v.user, reset_id, ctx.settings.reset_stall_seconds)
        return html("reset_detail.html", v, title=f"Reset {item.id}", r=item)

    return await page(session, ctx.settings.encryption_key(), cookie, run)
