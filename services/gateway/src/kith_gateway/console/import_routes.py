"""/console/imports: the Monica wizard (check → options → start), vCard upload, history, detail.

After a successful connection check the wizard keeps the URL and key server-side, encrypted, in
a draft row that expires with the check TTL; the options page carries only the draft's opaque
id, never the key (not in the HTML, a cookie or a URL). Starting the import takes the draft.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError

from kith_common.errors import Conflict, InvalidInput
from kith_common.import_report import report
from kith_gateway.console.access import (
    FORM_ERRORS,
    FormErrors,
    NoStoreRoute,
    Visitor,
    field_errors,
    html,
    page,
    see_other,
)
from kith_gateway.console.paging import PageNumber, pager_of
from kith_gateway.console.session_routes import ConsoleCookie
from kith_gateway.deps import Context, Session, check_role
from kith_gateway.pagination import DEFAULT_LIMIT
from kith_gateway.schemas.imports import ConnectionCheckIn, ImportOut, MonicaImportIn
from kith_gateway.services import accounts, imports
from kith_gateway.services.imports import VCARD_SUFFIXES

router = APIRouter(route_class=NoStoreRoute)
Id = Annotated[int, Path(ge=1, le=2**62)]
Csrf = Annotated[str, Form()]

# importer.md §6: every option, with its default.
TOGGLES: tuple[tuple[str, str, bool], ...] = (
    ("auto_merge_duplicates", "Merge duplicates automatically", True),
    ("notes", "Notes", True),
    ("photos", "Photos", False),
    ("documents", "Documents", False),
    ("pets", "Pets", True),
    ("calls", "Calls", True),
    ("activities", "Activities", True),
    ("gifts", "Gifts", True),
    ("debts", "Debts", True),
    ("tasks", "Tasks", True),
    ("reminders", "Reminders", True),
    ("conversations", "Conversations", True),
    ("life_events", "Life events", True),
    ("journal_entries", "Journal entries", True),
)


def _validation(err: ValidationError) -> dict[str, str]:
    return {str(e["loc"][-1]): str(e["msg"]) for e in err.errors()}


async def _wizard(session: Any, v: Visitor, status: int = 200, **values: Any) -> Response:
    return html("import_new.html", v, status, title="New import", **values)


async def _options(
    session: Any, v: Visitor, url: str, draft: str, check: Any, errors: dict[str, str]
) -> Response:
    regions = await accounts.phone_regions(session, v.user, None)
    return html(
        "import_options.html",
        v,
        FORM_ERRORS,
        title="Import options",
        api_url=url,
        draft=draft,
        check=check,
        regions=regions,
        toggles=TOGGLES,
        errors=errors,
    )


@router.get("/imports")
async def import_list(
    session: Session,
    ctx: Context,
    cookie: ConsoleCookie = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    page_number: Annotated[PageNumber, Query(alias="page")] = 1,
) -> Response:
    async def run(v: Visitor) -> Response:
        found = await imports.list_imports(session, v.user, cursor, DEFAULT_LIMIT, with_total=True)
        where = pager_of("/console/imports", found.meta, page_number, len(found.data))
        return html("imports.html", v, title="Imports", page=found, pager=where)

    return await page(session, ctx.settings.encryption_key(), cookie, run)


@router.get("/imports/new")
async def wizard(session: Session, ctx: Context, cookie: ConsoleCookie = None) -> Response:
    async def run(v: Visitor) -> Response:
        check_role(v.user, "editor")
        return await _wizard(session, v, errors={}, api_url="")

    return await page(session, ctx.settings.encryption_key(), cookie, run)


@router.post("/imports/check")
async def check(
    session: Session,
    ctx: Context,
    csrf: Csrf = "",
    api_url: Annotated[str, Form()] = "",
    api_key: Annotated[str, Form()] = "",
    cookie: ConsoleCookie = None,
) -> Response:
    async def run(v: Visitor) -> Response:
        check_role(v.user, "editor")
        try:
            body = ConnectionCheckIn(api_url=api_url.strip(), api_key=api_key.strip())
        except ValidationError as err:
            return await _wizard(session, v, FORM_ERRORS, errors=_validation(err), api_url=api_url)
        try:
            result = await imports.check_connection(session, ctx, v.user, body)
        except InvalidInput as err:
            return await _wizard(session, v, FORM_ERRORS, errors=field_errors(err), api_url=api_url)
        if not result.ok:
            errors = {"api_url": f"{result.message} ({result.code})"}
            return await _wizard(
                session, v, FORM_ERRORS, errors=errors, api_url=api_url, check=result
            )
        draft = await imports.save_wizard_draft(session, ctx, v.user, body.api_url, body.api_key)
        return await _options(session, v, body.api_url, draft, result, {})

    return await page(session, ctx.settings.encryption_key(), cookie, run, csrf=csrf)


@router.post("/imports")
async def start(
    request: Request, session: Session, ctx: Context, cookie: ConsoleCookie = None
) -> Response:
    form = await request.form(max_files=0, max_fields=40)
    value = {k: str(form.get(k) or "") for k in ("csrf", "draft", "region")}

    async def run(v: Visitor) -> Response:
        check_role(v.user, "editor")
        options: dict[str, Any] = {name: name in form for name, _, _ in TOGGLES}
        options["phone_default_region"] = value["region"].strip().upper()
        taken = await imports.take_wizard_draft(session, ctx, v.user, value["draft"])
        if taken is None:
            expired = {"api_url": "The connection check expired; check the connection again."}
            return await _wizard(session, v, FORM_ERRORS, errors=expired, api_url="")
        api_url, api_key = taken
        try:
            body = MonicaImportIn(api_url=api_url, api_key=api_key, options=options)
            accepted = await imports.start_monica(session, ctx, v.user, body)
        except ValidationError as err:
            errors = _validation(err)
        except InvalidInput as err:
            errors = field_errors(err)
        except Conflict as err:
            errors = {"form": err.detail}
        else:
            return see_other(f"/console/imports/{accepted.id}")
        await session.rollback()  # the draft stays for the corrected form
        return await _options(session, v, api_url, value["draft"], None, errors)

    secret = ctx.settings.encryption_key()
    return await page(session, secret, cookie, run, csrf=value["csrf"])


@router.post("/imports/vcard")
async def upload_vcard(
    session: Session,
    ctx: Context,
    csrf: Csrf = "",
    file: Annotated[UploadFile | None, File()] = None,
    cookie: ConsoleCookie = None,
) -> Response:
    async def run(v: Visitor) -> Response:
        check_role(v.user, "editor")
        limit = ctx.settings.max_upload_mb * 1024 * 1024
        try:
            if file is None or not file.filename:
                raise FormErrors({"file": "Choose a .vcf or .vcard file."})
            if not file.filename.lower().endswith(VCARD_SUFFIXES):
                raise FormErrors({"file": "The file must end in .vcf or .vcard."})
            data = await file.read(limit + 1)
            if len(data) > limit:
                raise FormErrors({"file": f"The file exceeds {ctx.settings.max_upload_mb} MiB."})
            accepted = await imports.start_vcard(
                session, ctx, v.user, file_name=file.filename, data=data, options={}
            )
        except FormErrors as err:
            return await _wizard(session, v, FORM_ERRORS, errors=err.errors, api_url="")
        except (InvalidInput, Conflict) as err:
            await session.rollback()
            errors = field_errors(err) if isinstance(err, InvalidInput) else {"file": err.detail}
            return await _wizard(session, v, FORM_ERRORS, errors=errors, api_url="")
        return see_other(f"/console/imports/{accepted.id}")

    return await page(session, ctx.settings.encryption_key(), cookie, run, csrf=csrf)


@router.get("/imports/{import_id}")
async def detail(
    session: Session, ctx: Context, import_id: Id, cookie: ConsoleCookie = None
) -> Response:
    async def run(v: Visitor) -> Response:
        item = await imports.get_import(session, v.user, import_id)
        return _detail(v, item)

    return await page(session, ctx.settings.encryption_key(), cookie, run)


def _detail(
    v: Visitor, item: ImportOut, status: int = 200, errors: dict[str, str] | None = None
) -> Response:
    """The import page: the import told in plain language, as `kith import show` tells it."""
    told = report(item.model_dump(mode="json"))
    return html(
        "import_detail.html",
        v,
        status,
        title=f"Import {item.id}",
        i=item,
        told=told,
        errors=errors or {},
    )


@router.post("/imports/{import_id}/cancel")
async def cancel(
    session: Session, ctx: Context, import_id: Id, csrf: Csrf = "", cookie: ConsoleCookie = None
) -> Response:
    async def run(v: Visitor) -> Response:
        await imports.cancel(session, check_role(v.user, "editor"), import_id)
        return see_other(f"/console/imports/{import_id}")

    return await page(session, ctx.settings.encryption_key(), cookie, run, csrf=csrf)


@router.post("/imports/{import_id}/media-retry")
async def media_retry(
    session: Session,
    ctx: Context,
    import_id: Id,
    csrf: Csrf = "",
    api_key: Annotated[str, Form()] = "",
    cookie: ConsoleCookie = None,
) -> Response:
    async def run(v: Visitor) -> Response:
        check_role(v.user, "editor")
        if not api_key.strip():
            item = await imports.get_import(session, v.user, import_id)
            return _detail(v, item, FORM_ERRORS, {"api_key": "Enter the Monica API key again."})
        await imports.retry_media(session, ctx, v.user, import_id, api_key.strip())
        return see_other(f"/console/imports/{import_id}")

    return await page(session, ctx.settings.encryption_key(), cookie, run, csrf=csrf)
