"""/console/...: HTML pages over the same services and role checks as the API."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from kith_gateway.console import (
    account_routes,
    contact_routes,
    duplicate_routes,
    import_routes,
    operator_routes,
    session_routes,
)
from kith_gateway.console.access import NoStoreRoute

router = APIRouter(prefix="/console", include_in_schema=False, route_class=NoStoreRoute)


@router.get("")
@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/console/imports", status_code=303)


for _module in (
    session_routes,
    contact_routes,
    import_routes,
    duplicate_routes,
    account_routes,
    operator_routes,
):
    router.include_router(_module.router)
