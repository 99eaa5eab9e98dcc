"""The Monica client: one retry layer, readable errors, size caps, SSRF guard, URL rule."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kith_common.monica.client import MonicaClient
from kith_common.monica.errors import (
    MonicaAuthError,
    MonicaBadResponse,
    MonicaHttpError,
    MonicaNotJson,
    MonicaRefused,
    MonicaTooLarge,
    MonicaUnavailable,
)
from kith_common.monica.urls import normalize_api_url, source_instance
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, Fault

TOKEN = "test-token"


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def _client(server: FakeMonicaServer, sleeps: Sleeps, **kw: object) -> MonicaClient:
    return MonicaClient(server.url, TOKEN, allow_private=True, sleep=sleeps, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://h/monica//", "https://h/monica"),
        (" https://H/monica/api/ ", "https://h/monica"),
        ("http://h:8080/api", "http://h:8080"),
    ],
)
def test_base_url_is_normalised_keeping_the_path_prefix(raw: str, expected: str) -> None:
    assert normalize_api_url(raw) == expected


def test_source_instance_is_host_port_and_path() -> None:
    assert (
        source_instance("https://Crm.Example.org:8443/Monica/api") == "crm.example.org:8443/monica"
    )


async def test_requests_go_under_the_prefix_api_path(
    fake: FakeMonica, server: FakeMonicaServer
) -> None:
    async with MonicaClient(server.url + "//api/", TOKEN, allow_private=True) as client:
        await client.me()
    assert fake.log[-1].path == "/api/me"


async def test_500_then_200_is_one_retry(fake: FakeMonica, server: FakeMonicaServer) -> None:
    fake.add_fault(Fault("/api/me", status=500))
    sleeps = Sleeps()
    async with _client(server, sleeps) as client:
        await client.me()
        assert client.stats.requests == 2
        assert client.stats.retries == 1
    assert len(sleeps.calls) == 1
    assert 0 <= sleeps.calls[0] <= 1


@pytest.mark.parametrize(("status", "error"), [(400, MonicaHttpError), (404, Exception)])
async def test_client_errors_are_not_retried(
    fake: FakeMonica, server: FakeMonicaServer, status: int, error: type[Exception]
) -> None:
    fake.add_fault(Fault("/api/me", status=status))
    async with _client(server, Sleeps()) as client:
        with pytest.raises(error):
            await client.me()
        assert client.stats.requests == 1


async def test_bad_key_is_a_readable_401_without_retry(server: FakeMonicaServer) -> None:
    async with MonicaClient(server.url, "wrong", allow_private=True, sleep=Sleeps()) as client:
        with pytest.raises(MonicaAuthError, match="rejected the API key") as info:
            await client.me()
        assert client.stats.requests == 1
    assert "wrong" not in str(info.value)


async def test_persistent_5xx_backs_off_five_times_then_gives_a_readable_error(
    fake: FakeMonica, server: FakeMonicaServer
) -> None:
    fake.add_fault(Fault("/api/me", kind="html", status=502, times=None))
    sleeps = Sleeps()
    async with _client(server, sleeps) as client:
        with pytest.raises(MonicaUnavailable, match="answered 502"):
            await client.me()
        assert client.stats.requests == 6
    assert [s <= c for s, c in zip(sleeps.calls, (1, 2, 4, 8, 16), strict=True)] == [True] * 5


async def test_timeouts_and_resets_are_retried(fake: FakeMonica, server: FakeMonicaServer) -> None:
    fake.add_fault(Fault("/api/me", kind="slow", delay=1.0))
    fake.add_fault(Fault("/api/me", kind="reset"))
    async with _client(server, Sleeps(), read_timeout=0.3) as client:
        assert (await client.me())["id"] == 1
        assert client.stats.retries == 2


async def test_429_waits_retry_after(fake: FakeMonica, server: FakeMonicaServer) -> None:
    fake.rate_limit, fake.rate_window = 1, 60
    sleeps = Sleeps()
    async with _client(server, sleeps, max_retries=1) as client:
        await client.me()
        with pytest.raises(MonicaUnavailable, match="429"):
            await client.me()
        assert client.stats.rate_limit_wait_seconds >= 59
    assert sleeps.calls[0] >= 59


@pytest.mark.parametrize(
    ("fault", "error", "text"),
    [
        (Fault("/api/contacts", kind="login_page"), MonicaNotJson, "web page"),
        (Fault("/api/contacts", kind="malformed"), MonicaNotJson, "not valid JSON"),
        (
            Fault("/api/contacts", kind="body", body={"data": {}, "meta": {}}),
            MonicaBadResponse,
            "`data`",
        ),
        (
            Fault("/api/contacts", kind="body", body={"data": [], "meta": {"total": "x"}}),
            MonicaBadResponse,
            "meta.total",
        ),
        (Fault("/api/contacts", kind="huge", size=200_000), MonicaTooLarge, "larger than"),
    ],
)
async def test_malformed_pages_give_errors_naming_endpoint_and_page(
    fake: FakeMonica,
    server: FakeMonicaServer,
    fault: Fault,
    error: type[Exception],
    text: str,
) -> None:
    fake.add_fault(fault)
    async with _client(server, Sleeps(), max_response_bytes=100_000) as client:
        with pytest.raises(error, match=text) as info:
            await client.page("/contacts", page=1)
    assert "/api/contacts" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.5/",
        "http://169.254.169.254/",
        "http://[::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://100.64.1.1/",
        "http://localhost/",
    ],
)
async def test_ssrf_guard_refuses_private_addresses(url: str) -> None:
    async with MonicaClient(url, TOKEN, sleep=Sleeps()) as client:
        with pytest.raises(MonicaRefused, match="KITH_IMPORT_ALLOW_PRIVATE_HOSTS"):
            await client.me()


async def test_allow_flag_lifts_the_guard(server: FakeMonicaServer) -> None:
    async with MonicaClient(server.url, TOKEN, allow_private=True) as client:
        assert (await client.me())["name"] == "Ada Lovelace"


@pytest.fixture
def self_signed_https(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server whose certificate no public CA signed (made with the openssl CLI)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_every_client_verifies_tls_certificates(self_signed_https: str) -> None:
    """Clients share one TLS context (built once per process); it must still verify."""
    for _ in range(2):
        async with MonicaClient(
            self_signed_https, TOKEN, allow_private=True, sleep=Sleeps()
        ) as client:
            with pytest.raises(MonicaUnavailable, match=r"(?i)certificate"):
                await client.me()
