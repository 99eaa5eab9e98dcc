"""The gateway process: `kith serve gateway`, the HTTP API on `KITH_GATEWAY_PORT`.

The gateway consumes no durable work; its runtime still runs an outbox relay, because the
commands it accepts are written to the outbox in the request's transaction. Its live event
stream (`GET /v1/events`) reads `kith.evt.>` through a core-NATS subscription.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from kith_common.bus.credentials import connect_options
from kith_common.health import health_routes
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_gateway import heap, problems
from kith_gateway.console.routes import router as console_router
from kith_gateway.context import GatewayContext, NatsLink
from kith_gateway.database import read_engine, read_sessions
from kith_gateway.events_hub import EventHub
from kith_gateway.middleware import GatewayMiddleware
from kith_gateway.routes import (
    account,
    admin,
    contacts,
    duplicates,
    events,
    imports,
    invitations,
    media,
    merges,
    notes,
    records,
    resets,
    timeline,
    users,
)
from kith_gateway.schemas.common import Problem, problem_responses
from kith_gateway.schemas.imports import MonicaImportIn
from kith_gateway.text_guard import TextGuard

SERVICE = "gateway"
API_VERSION = "0.1.0"


def api_router() -> APIRouter:
    router = APIRouter(
        prefix="/v1", responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 503)
    )
    for module in (
        account,
        contacts,
        timeline,
        records,
        notes,
        media,
        duplicates,
        merges,
        imports,
        resets,
        events,
        users,
        invitations,
        admin,
    ):
        router.include_router(module.router)
    return router


def create_api(runtime: Runtime) -> FastAPI:
    """The FastAPI application; health routes are also served on the API port."""
    api = FastAPI(
        title="Kith API",
        version=API_VERSION,
        description="Kith personal CRM: contacts, duplicates and merges, imports, resets.",
    )
    link = NatsLink(
        runtime.settings.nats_url,
        lambda: runtime.nc,
        connect_options(runtime.settings, runtime.service),
    )
    reads = read_engine(runtime.settings)
    api.state.kith = GatewayContext(
        settings=runtime.settings,
        sessions=runtime.sessions,
        reads=read_sessions(reads, runtime.settings),
        layout=runtime.layout,
        nats=link,
    )
    api.state.hub = EventHub(link, runtime.layout)
    problems.install(api)
    _document_models(api)
    api.include_router(api_router())
    api.include_router(console_router)
    for route in health_routes(runtime.health):
        route.include_in_schema = False
        api.router.routes.append(route)
    api.add_middleware(TextGuard)  # inside GatewayMiddleware: bodies are capped first
    api.add_middleware(
        GatewayMiddleware, max_upload_bytes=runtime.settings.max_upload_mb * 1024 * 1024
    )

    async def close_hub(_: Runtime) -> None:
        await api.state.hub.close()
        await link.close()
        await reads.dispose()

    runtime.on_stop.append(close_hub)
    return api


def _document_models(api: FastAPI) -> None:
    """Add the schemas that hand-written parts of the document refer to: `Problem` (the shared
    error responses) and `MonicaImportIn` (the JSON body of `POST /v1/imports`, which reads
    its body itself to also take multipart)."""
    original = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            document = original()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in (Problem, MonicaImportIn):
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            api.openapi_schema = document
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]


def build_app(settings: Settings) -> Runtime:
    runtime = Runtime(settings, SERVICE)
    runtime.serve_http(create_api(runtime), settings.gateway_port)
    heap.install(runtime)
    return runtime
