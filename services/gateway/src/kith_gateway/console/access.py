"""Who is looking at a console page, and the two gates every request passes.

A page needs a valid session cookie naming a live token (an account user's, or an operator's
for the operator page only); a form post also needs the CSRF token derived from that cookie,
checked before anything else so a forged post never reaches a service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.errors import InvalidInput, KithError
from kith_gateway.console import cookies
from kith_gateway.console.render import SERVICE_NOTICES, render
from kith_gateway.deps import Principal, principal_for
from kith_gateway.repositories import auth as auth_repo
from kith_gateway.repositories import console_sessions
from kith_gateway.services import presence

log = structlog.get_logger(__name__)

_RANK = {"viewer": 0, "editor": 1, "admin": 2}

# A form shown again with its field errors is a page the browser should simply display: a 4xx
# would make browsers log a failed load (and break "no console errors" at every typo). Errors
# that end the journey (403, 404, 503) keep their status.
FORM_ERRORS = 200


class NoStoreRoute(APIRoute):
    """Every console response carries `Cache-Control: no-store`.

    Console pages show account data and CSRF tokens; a shared or back-button cache must never
    keep them (a proxy in front of the gateway, the browser after sign-out).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def no_store(request: Request) -> Response:
            response = await handler(request)
            response.headers["Cache-Control"] = "no-store"
            return response

        return no_store


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in account user (`principal`) or operator (`operator_token_id`)."""

    csrf: str
    principal: Principal | None = None
    operator_token_id: int | None = None

    def can(self, role: str) -> bool:
        return self.principal is not None and _RANK.get(self.principal.role, -1) >= _RANK[role]

    @property
    def user(self) -> Principal:
        assert self.principal is not None
        return self.principal


@dataclass
class FormErrors(Exception):
    """Field errors shown next to their fields; the page re-renders (FORM_ERRORS)."""

    errors: dict[str, str] = field(default_factory=dict)


async def session_token(session: AsyncSession, secret: bytes, cookie: str | None) -> bytes | None:
    """The token hash behind a valid cookie whose session was not signed out (or expired)."""
    session_secret = cookies.read(secret, cookie)
    if session_secret is None:
        return None
    return await console_sessions.token_of(session, cookies.session_id(session_secret))


async def visitor(session: AsyncSession, secret: bytes, cookie: str | None) -> Visitor | None:
    token_hash = await session_token(session, secret, cookie)
    if token_hash is None or cookie is None:
        return None
    csrf = cookies.csrf(secret, cookie)
    owner = await principal_for(session, token_hash)
    if owner is not None:
        return Visitor(csrf=csrf, principal=owner)
    operator = await auth_repo.operator_token_id(session, token_hash)
    if operator is not None:
        await auth_repo.touch_operator_token(session, operator, dt.datetime.now(dt.UTC))
        await session.commit()
        return Visitor(csrf=csrf, operator_token_id=operator)
    return None


def login_redirect() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303)


def error_page(status: int, detail: str, v: Visitor | None = None) -> HTMLResponse:
    html = render("error.html", v=v, status=status, detail=detail, title=f"Error {status}")
    return HTMLResponse(html, status_code=status)


def field_errors(err: InvalidInput) -> dict[str, str]:
    """The problem's `errors` list as {field: message} (the last path segment names the field)."""
    found: dict[str, str] = {}
    for item in getattr(err, "errors", None) or []:
        name = str(item.get("field", "")).split(".")[-1] or "form"
        found.setdefault(name, str(item.get("message", "")))
    if not found:
        found["form"] = err.detail
    return found


Render = Callable[[Visitor], Awaitable[Response | str]]


async def page(
    session: AsyncSession,
    secret: bytes,
    cookie: str | None,
    run: Render,
    *,
    csrf: str | None = None,
    operator: bool = False,
    banner: bool = True,
) -> Response:
    """Authenticate, check CSRF on posts (`csrf` given), run, map errors to pages.

    A service's 404/403/409 become the same status with an HTML page; a 5xx (an unreachable
    bus or importer) becomes 503, as in the API. A signed-in page carries the services banner
    (`banner=False` for responses that are not pages: a photo, a download).
    """
    v = await visitor(session, secret, cookie)
    if csrf is not None and not cookies.csrf_ok(secret, cookie, csrf):
        return error_page(403, "The form expired or was not sent from this console; reload.", v)
    if v is None:
        return login_redirect()
    if operator != (v.operator_token_id is not None):
        wanted = "an operator token" if operator else "an account token"
        return error_page(403, f"This page needs {wanted}.", v)
    shown = SERVICE_NOTICES.set(await _notices(session) if banner else ())
    try:
        result = await run(v)
    except KithError as err:
        await session.rollback()
        status = err.status if err.status < 500 else 503
        return error_page(status, err.detail, v)
    finally:
        SERVICE_NOTICES.reset(shown)
    if isinstance(result, Response):
        return result
    return HTMLResponse(result)


async def _notices(session: AsyncSession) -> tuple[str, ...]:
    """The banner's sentences; none if presence cannot be read (the page matters more)."""
    try:
        return tuple(await presence.notices(session))
    except SQLAlchemyError:
        await session.rollback()
        log.warning("presence_read_failed")
        return ()


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def html(template: str, v: Visitor, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(render(template, v=v, **values), status_code=status)
