"""Errors as `application/problem+json` (RFC 9457), the only error shape the API answers.

`KithError` subclasses carry the status and a stable `code`; the body is `type`
(`/problems/<code>`), `title`, `status`, `detail`, plus `errors` (422 field list) and any
`extra` members an error carries (e.g. `reset_id`, `status_url` of `reset_in_progress`).
Routes never raise `HTTPException` for domain outcomes (CONVENTIONS §7).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kith_common.db.outage import is_unavailable
from kith_common.errors import InvalidInput, KithError, Permanent

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class ExtendedConflict(Permanent):
    """A 409 with extra members in the problem body (reset_in_progress carries the reset)."""

    status = 409
    code = "conflict"

    def __init__(self, detail: str, *, code: str, extra: dict[str, Any]) -> None:
        super().__init__(detail, code=code)
        self.extra = extra


class BadRequest(Permanent):
    status = 400
    code = "bad-request"


class PayloadTooLarge(Permanent):
    status = 413
    code = "payload-too-large"


class TooManyRequests(Permanent):
    """429 with `Retry-After`: the caller may try again in `retry_after` seconds."""

    status = 429
    code = "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = retry_after


def problem(
    status: int,
    code: str,
    detail: str = "",
    *,
    errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description or HTTPStatus(status).phrase,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    return ".".join(parts)


async def _kith_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KithError)
    if exc.status >= 500:
        # Transient: no internals shown (CONVENTIONS §7).
        log.warning("request_failed_transiently", code=exc.code)
        return problem(exc.status, exc.code, "the service is temporarily unavailable")
    errors = exc.errors if isinstance(exc, InvalidInput) else None
    retry_after = exc.retry_after if isinstance(exc, TooManyRequests) else None
    return problem(
        exc.status,
        exc.code,
        exc.detail,
        errors=errors,
        extra=getattr(exc, "extra", None),
        headers={"Retry-After": str(retry_after)} if retry_after is not None else None,
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()
    ]
    return problem(422, "invalid-input", "the request is not valid", errors=errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {
        401: "unauthenticated",
        404: "not-found",
        405: "method-not-allowed",
        413: "payload-too-large",
    }
    return problem(
        exc.status_code,
        codes.get(exc.status_code, "http-error"),
        str(exc.detail or ""),
        headers=dict(exc.headers) if exc.headers else None,
    )


RETRY_AFTER_SECONDS = 5


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    if is_unavailable(exc):
        # An outage, not a bug: no traceback, and the client is told when to retry.
        log.warning("dependency_unavailable", error_type=type(exc).__name__)
        return problem(
            503,
            "unavailable",
            "the service is temporarily unavailable; retry shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.exception("request_crashed", error_type=type(exc).__name__)
    return problem(500, "internal-error", "an unexpected error occurred")


def install(api: FastAPI) -> None:
    api.add_exception_handler(KithError, _kith_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(StarletteHTTPException, _http_error)
    api.add_exception_handler(Exception, _unexpected)
