"""Imports: start (Monica JSON or vCard multipart), history, connection check (importer.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from kith_common.events.payloads.imports import CheckConnectionCode, MonicaUser
from kith_gateway.schemas.common import Strict


class MonicaImportIn(Strict):
    source: Literal["monica_api"] = "monica_api"
    api_url: str = Field(min_length=1, max_length=2000)
    api_key: str = Field(min_length=1, max_length=4000, json_schema_extra={"writeOnly": True})
    options: dict[str, Any] = Field(default_factory=dict, description="importer.md §6.")


class ConnectionCheckIn(Strict):
    api_url: str = Field(min_length=1, max_length=2000)
    api_key: str = Field(min_length=1, max_length=4000, json_schema_extra={"writeOnly": True})


class ConnectionCheckOut(BaseModel):
    ok: bool
    code: CheckConnectionCode
    message: str
    monica_user: MonicaUser | None


class MediaRetryIn(Strict):
    api_key: str = Field(min_length=1, max_length=4000, json_schema_extra={"writeOnly": True})


class ImportProgressOut(BaseModel):
    phase: str | None = Field(
        description="The crawl's current phase; null before it starts and once it has ended."
    )
    current: int | None = Field(description="Items done in the phase; never above `total`.")
    total: int | None
    requests_done: int | None = Field(
        default=None, description="Requests to Monica so far (retries included)."
    )
    requests_estimated: int | None = Field(
        default=None, description="Requests the crawl is expected to make in all."
    )
    eta_seconds: float | None = Field(
        default=None,
        description="Remaining requests ÷ the Monica rate limit; null when unknown or off.",
    )


class ImportOut(BaseModel):
    """Never the key (importer.md §3)."""

    id: int
    source: Literal["monica_api", "vcard"]
    status: str
    misc_status: str | None
    media_status: str | None
    cancel_reason: str | None
    api_url: str | None
    file_name: str | None
    file_size: int | None
    options: dict[str, Any]
    summary: dict[str, Any]
    sync_summary: dict[str, Any]
    progress: ImportProgressOut
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ImportAccepted(BaseModel):
    id: int
    status_url: str
