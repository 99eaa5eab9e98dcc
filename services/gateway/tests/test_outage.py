"""While PostgreSQL cannot be reached, requests get a 503 problem with Retry-After, not a 500."""

from __future__ import annotations

import httpx
from structlog.testing import capture_logs

from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.testing.stack import free_port
from kith_gateway.app import create_api


async def test_a_database_that_refuses_connections_is_503_with_retry_after(
    settings: Settings,
) -> None:
    # Nothing listens on this port: every connect is refused, as during a restart.
    down = settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/kith"}
    )
    runtime = Runtime(down, "gateway")
    api = create_api(runtime)
    transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
    auth = {"Authorization": "Bearer kith_0123456789abcdef0123456789abcdef"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            with capture_logs() as logs:
                read = await http.get("/v1/duplicates", headers=auth)
                write = await http.post("/v1/contacts", headers=auth, json={"first_name": "Ada"})
    finally:
        await runtime.stop()
    for response in (read, write):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "5"
        body = response.json()
        assert body["type"] == "/problems/unavailable"
        assert "retry" in body["detail"]
    events = [entry["event"] for entry in logs]
    assert events.count("dependency_unavailable") == 2
    assert "request_crashed" not in events
