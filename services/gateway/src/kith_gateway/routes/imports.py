"""/v1/imports: start (JSON for Monica, multipart for vCard), history, cancel, media retry."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from kith_common.errors import InvalidInput
from kith_common.vcards import count_cards, too_many_cards
from kith_gateway.deps import Context, Editor, Session, Viewer
from kith_gateway.pagination import DEFAULT_LIMIT, Cursor, Limit, WithTotal
from kith_gateway.problems import PayloadTooLarge
from kith_gateway.schemas.common import Page
from kith_gateway.schemas.imports import (
    ConnectionCheckIn,
    ConnectionCheckOut,
    ImportAccepted,
    ImportOut,
    MediaRetryIn,
    MonicaImportIn,
)
from kith_gateway.services import imports
from kith_gateway.services.imports import VCARD_SUFFIXES
from kith_gateway.text_guard import MESSAGE as TEXT_MESSAGE
from kith_gateway.text_guard import bad_text

router = APIRouter(prefix="/imports", tags=["imports"])

Id = Annotated[int, Path(ge=1, le=2**62)]

_START_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/MonicaImportIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "options": {"type": "string", "description": "JSON object of options."},
                    },
                    "required": ["file"],
                }
            },
        },
    }
}


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def _errors(err: ValidationError) -> InvalidInput:
    return InvalidInput(
        "the request is not valid",
        errors=[
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in err.errors()
        ],
    )


@router.post(
    "/monica/check",
    response_model=ConnectionCheckOut,
    responses={429: {"description": "Too many connection checks from this account."}},
)
async def check_connection(
    session: Session, caller: Editor, ctx: Context, body: ConnectionCheckIn
) -> ConnectionCheckOut:
    return await imports.check_connection(session, ctx, caller, body)


@router.post(
    "",
    response_model=ImportAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_START_BODY,
    responses={409: {"description": "An import is already active."}},
)
async def start_import(
    request: Request, session: Session, caller: Editor, ctx: Context
) -> ImportAccepted:
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        return await _start_vcard(request, session, caller, ctx)
    try:
        body = MonicaImportIn.model_validate_json(await request.body() or b"{}")
    except ValidationError as err:
        raise _errors(err) from err
    return await imports.start_monica(session, ctx, caller, body)


async def _start_vcard(request: Request, session: Any, caller: Any, ctx: Any) -> ImportAccepted:
    limit = ctx.settings.max_upload_mb * 1024 * 1024
    form = await request.form(max_files=1, max_fields=5, max_part_size=limit)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise _invalid("file", "a .vcf or .vcard file is required")
    if not upload.filename.lower().endswith(VCARD_SUFFIXES):
        raise _invalid("file", "the file must end in .vcf or .vcard")
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the file exceeds {ctx.settings.max_upload_mb} MiB")
    # The byte cap does not bound the work: 20 MiB of tiny cards is ~700,000 contacts.
    cards = await asyncio.to_thread(count_cards, data)
    refusal = too_many_cards(cards, ctx.settings.vcard_max_cards)
    if refusal is not None:
        raise PayloadTooLarge(refusal, code="too-many-cards")
    raw_options = form.get("options") or "{}"
    try:
        options = json.loads(raw_options) if isinstance(raw_options, str) else None
    except ValueError:
        options = None
    if not isinstance(options, dict):
        raise _invalid("options", "options must be a JSON object")
    # A multipart body is not read by TextGuard: the same check, on what this route keeps.
    field = bad_text({"file": upload.filename, "options": options})
    if field is not None:
        raise _invalid(field, TEXT_MESSAGE)
    return await imports.start_vcard(
        session, ctx, caller, file_name=upload.filename, data=data, options=options
    )


@router.get("", response_model=Page[ImportOut])
async def list_imports(
    session: Session,
    caller: Viewer,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    with_total: WithTotal = False,
) -> Page[ImportOut]:
    return await imports.list_imports(session, caller, cursor, limit, with_total=with_total)


@router.get("/{import_id}", response_model=ImportOut)
async def get_import(session: Session, caller: Viewer, import_id: Id) -> ImportOut:
    return await imports.get_import(session, caller, import_id)


@router.post(
    "/{import_id}/cancel", response_model=ImportAccepted, status_code=status.HTTP_202_ACCEPTED
)
async def cancel_import(session: Session, caller: Editor, import_id: Id) -> ImportAccepted:
    return await imports.cancel(session, caller, import_id)


@router.post(
    "/{import_id}/media/retry",
    response_model=ImportAccepted,
    status_code=status.HTTP_202_ACCEPTED,
)
async def retry_media(
    session: Session, caller: Editor, ctx: Context, import_id: Id, body: MediaRetryIn
) -> ImportAccepted:
    return await imports.retry_media(session, ctx, caller, import_id, body.api_key)
