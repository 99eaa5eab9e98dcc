"""Contacts with their fields, addresses, tags and photos."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from kith_gateway.schemas.common import Strict
from kith_gateway.schemas.records import ContactCounts

Name = Field(default=None, max_length=200)
Text = Field(default=None, max_length=10_000)


class FieldIn(Strict):
    type: str | None = Field(
        default=None, max_length=100, description="Key of a field type (email, mobile, ...)."
    )
    type_id: int | None = Field(default=None, ge=1, le=2**62, description="Or the type's id.")
    value: str = Field(min_length=1, max_length=1000)
    label: str | None = Field(default=None, max_length=200)


class FieldPatch(Strict):
    value: str | None = Field(default=None, min_length=1, max_length=1000)
    label: str | None = Field(default=None, max_length=200)


class FieldOut(BaseModel):
    id: int
    type_id: int
    type: str | None = Field(description="The type's key (null for an account's own type).")
    type_name: str
    kind: str = Field(description="email, phone, impp, url, social or other.")
    value: str = Field(description="As stored (phones: E.164 when they parse).")
    formatted: str | None = Field(
        description="Phones: laid out per the account's phone_format; else the value."
    )
    label: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class AddressIn(Strict):
    label: str | None = Field(default=None, max_length=200)
    line1: str | None = Field(default=None, max_length=500)
    line2: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=200)
    province: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=50)
    country: str | None = Field(
        default=None, pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2."
    )
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class AddressOut(BaseModel):
    id: int
    label: str | None
    line1: str | None
    line2: str | None
    city: str | None
    province: str | None
    postal_code: str | None
    country: str | None
    latitude: float | None
    longitude: float | None
    created_at: dt.datetime
    updated_at: dt.datetime


class TagOut(BaseModel):
    id: int
    name: str
    color: str | None


class PhotoOut(BaseModel):
    id: int
    file_name: str | None
    content_type: str
    size_bytes: int
    is_private: bool
    is_avatar: bool
    content_url: str = Field(description="The bytes: `GET` it with the same token.")


class ContactBase(Strict):
    middle_name: str | None = Name
    last_name: str | None = Name
    nickname: str | None = Name
    company: str | None = Name
    job_title: str | None = Name
    description: str | None = Text
    birthdate: dt.date | None = None
    birthdate_year_unknown: bool | None = None
    favorite: bool | None = None
    is_archived: bool | None = None
    deceased: bool | None = None
    deceased_on: dt.date | None = None
    first_met_at: dt.date | None = None
    first_met_where: str | None = Name
    first_met_additional_info: str | None = Text


class ContactIn(ContactBase):
    first_name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    fields: list[FieldIn] = Field(default_factory=list, max_length=100)
    addresses: list[AddressIn] = Field(default_factory=list, max_length=50)


class ContactPatch(ContactBase):
    first_name: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"\S")


class ContactSummary(BaseModel):
    id: int
    display_name: str
    first_name: str
    last_name: str | None
    company: str | None
    favorite: bool
    is_archived: bool
    deleted_at: dt.datetime | None
    merged_into_id: int | None
    updated_at: dt.datetime


class ContactOut(ContactSummary):
    middle_name: str | None
    nickname: str | None
    job_title: str | None
    description: str | None
    birthdate: dt.date | None
    birthdate_year_unknown: bool
    deceased: bool
    deceased_on: dt.date | None
    first_met_at: dt.date | None
    first_met_where: str | None
    first_met_additional_info: str | None
    last_talked_to_at: dt.datetime | None
    created_at: dt.datetime
    fields: list[FieldOut]
    addresses: list[AddressOut]
    tags: list[TagOut]
    photos: list[PhotoOut]
    counts: ContactCounts
