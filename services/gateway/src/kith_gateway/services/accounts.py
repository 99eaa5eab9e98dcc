"""The caller's account: read, settings changes (admin), the phone-region picker."""

from __future__ import annotations

import zoneinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import phones
from kith_common.db.models import Account
from kith_common.errors import InvalidInput, NotFound
from kith_gateway.deps import Principal
from kith_gateway.repositories import accounts as repo
from kith_gateway.schemas.account import (
    AccountOut,
    AccountPatch,
    MeOut,
    MeUser,
    RegionOut,
    RegionsOut,
)


def account_out(account: Account) -> AccountOut:
    return AccountOut(
        id=account.id,
        name=account.name,
        locale=account.locale,
        timezone=account.timezone,
        phone_format=account.phone_format,  # type: ignore[arg-type]  # CHECK-constrained column
        default_phone_region=phones.region_for_locale(account.locale),
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


async def load(session: AsyncSession, account_id: int) -> Account:
    account = await repo.get(session, account_id)
    if account is None:
        raise NotFound("no such account")
    return account


async def me(session: AsyncSession, principal: Principal) -> MeOut:
    account = await load(session, principal.account_id)
    role: Any = principal.role
    return MeOut(
        user=MeUser(
            id=principal.user_id,
            email=principal.email,
            display_name=principal.display_name,
            role=role,
        ),
        account=account_out(account),
        role=role,
    )


async def get_account(session: AsyncSession, principal: Principal) -> AccountOut:
    return account_out(await load(session, principal.account_id))


async def patch_account(
    session: AsyncSession, principal: Principal, patch: AccountPatch
) -> AccountOut:
    """Settings are not account data: a running reset does not block them (reset.md §2)."""
    values = patch.model_dump(exclude_unset=True)
    for nullable in ("name", "locale", "timezone", "phone_format"):
        if nullable in values and values[nullable] is None:
            raise InvalidInput(
                f"{nullable} cannot be null",
                errors=[{"field": nullable, "message": "cannot be null"}],
            )
    if "timezone" in values:
        try:
            zoneinfo.ZoneInfo(values["timezone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
            raise InvalidInput(
                "unknown time zone",
                errors=[{"field": "timezone", "message": "not an IANA time zone"}],
            ) from err
    if values:
        await repo.update_settings(session, principal.account_id, values)
        await session.commit()
    return account_out(await _fresh(session, principal.account_id))


async def _fresh(session: AsyncSession, account_id: int) -> Account:
    account = await load(session, account_id)
    await session.refresh(account)
    return account


async def phone_regions(
    session: AsyncSession, principal: Principal, locale: str | None
) -> RegionsOut:
    account = await load(session, principal.account_id)
    regions = phones.supported_regions(locale or account.locale)
    return RegionsOut(
        data=[RegionOut(code=r.code, label=r.label, calling_code=r.calling_code) for r in regions],
        suggested=phones.region_for_locale(account.locale),
    )
