"""Sign-in, sign-out, the console's own assets and its live event stream (cookie-authenticated).

The browser's EventSource cannot send an Authorization header, so the console listens on
`/console/events`: the same account-scoped hub as `GET /v1/events`, authenticated by the
session cookie.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Cookie, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from kith_common.accounts import hash_token
from kith_gateway.console import cookies
from kith_gateway.console.access import (
    FORM_ERRORS,
    NoStoreRoute,
    error_page,
    login_redirect,
    see_other,
    visitor,
)
from kith_gateway.console.render import STATIC_DIR, render
from kith_gateway.deps import Context, Session, principal_for
from kith_gateway.problems import TooManyRequests
from kith_gateway.repositories import auth as auth_repo
from kith_gateway.repositories import console_sessions
from kith_gateway.streams import KEEPALIVE_SECONDS, open_stream

router = APIRouter(route_class=NoStoreRoute)

ConsoleCookie = Annotated[str | None, Cookie(alias=cookies.COOKIE)]
_ASSETS = {
    "console.js": "text/javascript",
    "duplicates.js": "text/javascript",
    "console.css": "text/css",
}


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    if name not in _ASSETS:
        return Response(status_code=404)
    return FileResponse(STATIC_DIR / name, media_type=_ASSETS[name])


LoginCookie = Annotated[str | None, Cookie(alias=cookies.LOGIN_COOKIE)]


@router.get("/login")
async def login_form(request: Request, ctx: Context, pending: LoginCookie = None) -> HTMLResponse:
    """The sign-in form, with a CSRF token bound to a pre-session cookie (login CSRF)."""
    pending = pending or cookies.new_login_nonce()
    csrf = cookies.csrf(ctx.settings.encryption_key(), pending)
    html = render("login.html", v=None, title="Sign in", errors={}, login_csrf=csrf)
    response = HTMLResponse(html)
    response.set_cookie(
        cookies.LOGIN_COOKIE,
        pending,
        max_age=cookies.LOGIN_MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/console",
    )
    return response


@router.post("/login")
async def login(
    request: Request,
    session: Session,
    ctx: Context,
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    pending: LoginCookie = None,
) -> Response:
    # Login CSRF: a form posted from another site would sign the victim in as the attacker.
    if not cookies.csrf_ok(ctx.settings.encryption_key(), pending, csrf):
        return error_page(
            403, "The sign-in form expired or was not sent from this console; reload."
        )
    token = token.strip()
    digest = hash_token(token) if token else b""
    target = "/console/imports"

    if not token or await principal_for(session, digest) is None:
        if token and await auth_repo.operator_token_id(session, digest) is not None:
            target = "/console/operator"
        else:
            errors = {"token": "That token is not valid." if token else "Enter an API token."}
            html = render("login.html", v=None, title="Sign in", errors=errors, login_csrf=csrf)
            return HTMLResponse(html, status_code=FORM_ERRORS)
    session_secret = cookies.new_session()
    await console_sessions.prune(session)
    await console_sessions.add(
        session,
        cookies.session_id(session_secret),
        digest,
        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=cookies.MAX_AGE_SECONDS),
    )
    await session.commit()
    response = see_other(target)
    response.set_cookie(
        cookies.COOKIE,
        cookies.issue(ctx.settings.encryption_key(), session_secret),
        max_age=cookies.MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        # Behind a TLS-terminating proxy the scheme comes from X-Forwarded-Proto, which uvicorn
        # honours only from KITH_TRUSTED_PROXIES.
        secure=request.url.scheme == "https",
        path="/console",
    )
    response.delete_cookie(cookies.LOGIN_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(
    session: Session,
    ctx: Context,
    cookie: ConsoleCookie = None,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    secret = ctx.settings.encryption_key()
    if not cookies.csrf_ok(secret, cookie, csrf):
        return error_page(403, "The form expired; reload the page.")
    session_secret = cookies.read(secret, cookie)
    if session_secret is not None:
        # Server-side: a copy of the cookie (another tab, a stolen one) stops working too.
        await console_sessions.revoke(session, cookies.session_id(session_secret))
        await session.commit()
    response = login_redirect()
    response.delete_cookie(cookies.COOKIE, path="/console")
    return response


@router.get("/events")
async def events(request: Request, ctx: Context, cookie: ConsoleCookie = None) -> Response:
    secret = ctx.settings.encryption_key()
    async with ctx.sessions() as session:
        v = await visitor(session, secret, cookie)
    token_hash = cookies.read(secret, cookie)
    if v is None or v.principal is None or token_hash is None:
        return Response(status_code=401)

    async def still_valid() -> bool:
        # The cookie's 12 h, the session (signed out elsewhere?) and the token behind it.
        async with ctx.sessions() as session:
            return await visitor(session, secret, cookie) is not None

    try:
        return open_stream(
            request,
            account_id=v.principal.account_id,
            token_key=token_hash,
            still_valid=still_valid,
            revalidate_seconds=ctx.settings.stream_revalidate_seconds,
            per_token=ctx.settings.streams_per_token,
        )
    except TooManyRequests:
        return Response(status_code=429, headers={"Retry-After": str(int(KEEPALIVE_SECONDS))})
