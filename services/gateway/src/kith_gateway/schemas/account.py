"""The caller, the account settings and the phone-region picker."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from kith_gateway.schemas.common import Strict

PhoneFormat = Literal["e164", "national", "international", "raw"]


class AccountOut(BaseModel):
    id: int
    name: str
    locale: str
    timezone: str
    phone_format: PhoneFormat
    default_phone_region: str | None = Field(description="Derived from the locale.")
    created_at: dt.datetime
    updated_at: dt.datetime


class AccountPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    locale: str | None = Field(
        default=None, min_length=2, max_length=35, pattern=r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$"
    )
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    phone_format: PhoneFormat | None = None


class MeUser(BaseModel):
    """The caller as `/v1/me` shows it."""

    id: int
    email: str
    display_name: str | None
    role: Literal["admin", "editor", "viewer"]


class MeOut(BaseModel):
    user: MeUser
    account: AccountOut
    role: Literal["admin", "editor", "viewer"]


class RegionOut(BaseModel):
    code: str
    label: str
    calling_code: int


class RegionsOut(BaseModel):
    data: list[RegionOut]
    suggested: str | None = Field(description="region_for_locale(account.locale).")
