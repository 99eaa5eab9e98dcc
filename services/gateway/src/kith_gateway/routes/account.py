"""/v1/me, /v1/account (settings) and /v1/phone-regions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kith_gateway.deps import Admin, Session, Viewer
from kith_gateway.schemas.account import AccountOut, AccountPatch, MeOut, RegionsOut
from kith_gateway.services import accounts

router = APIRouter(tags=["account"])


@router.get("/me", response_model=MeOut)
async def get_me(session: Session, caller: Viewer) -> MeOut:
    return await accounts.me(session, caller)


@router.get("/account", response_model=AccountOut)
async def get_account(session: Session, caller: Viewer) -> AccountOut:
    return await accounts.get_account(session, caller)


@router.patch("/account", response_model=AccountOut)
async def patch_account(session: Session, caller: Admin, body: AccountPatch) -> AccountOut:
    return await accounts.patch_account(session, caller, body)


@router.get("/phone-regions", response_model=RegionsOut)
async def phone_regions(
    session: Session,
    caller: Viewer,
    locale: Annotated[
        str | None, Query(max_length=35, description="Default: the account's.")
    ] = None,
) -> RegionsOut:
    return await accounts.phone_regions(session, caller, locale)
