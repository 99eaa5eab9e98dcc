"""`/healthz`, `/readyz` and `/metrics` for every service, on `KITH_METRICS_PORT`.

`/healthz` says the process is alive and its NATS connection not closed for good; `/readyz`
says it should get work: database reachable with the schema at the code's Alembic head, NATS
connected, streams present, its own durables bound, and not draining (deploy.md §1).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kith_common.metrics import render_latest

HEALTHZ_PATH = "/healthz"
READYZ_PATH = "/readyz"
METRICS_PATH = "/metrics"
HEALTH_PATHS = (HEALTHZ_PATH, READYZ_PATH, METRICS_PATH)

Check = Callable[[], Awaitable[str | None]]


@dataclass(slots=True)
class HealthState:
    """Liveness flag plus named readiness checks; each check returns None when fine."""

    alive: Callable[[], bool] = lambda: True
    checks: dict[str, Check] = field(default_factory=dict)
    draining: bool = False

    async def readiness(self) -> dict[str, str]:
        """Every failing check by name (empty when ready)."""
        failures: dict[str, str] = {}
        if self.draining:
            failures["shutdown"] = "draining"
        for name, check in self.checks.items():
            try:
                problem = await check()
            except Exception as err:
                problem = f"{type(err).__name__}: {err}"
            if problem:
                failures[name] = problem
        return failures


def health_routes(state: HealthState) -> list[Route]:
    """The three routes, to mount on a service's own HTTP app or the metrics app."""

    async def healthz(_: Request) -> Response:
        if state.alive():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "dead"}, status_code=503)

    async def readyz(_: Request) -> Response:
        failures = await state.readiness()
        if failures:
            return JSONResponse({"status": "not_ready", "failures": failures}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics_endpoint(_: Request) -> Response:
        body, content_type = render_latest()
        return Response(body, media_type=content_type)

    return [
        Route(HEALTHZ_PATH, healthz),
        Route(READYZ_PATH, readyz),
        Route(METRICS_PATH, metrics_endpoint),
    ]


def health_app(state: HealthState) -> Starlette:
    return Starlette(routes=health_routes(state))
