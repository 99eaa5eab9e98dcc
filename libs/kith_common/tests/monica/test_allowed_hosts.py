"""KITH_IMPORT_ALLOWED_HOSTS: private hosts one by one; metadata never; refusals name the host."""

from __future__ import annotations

import ipaddress

import pytest

from kith_common.monica.client import MonicaClient
from kith_common.monica.errors import MonicaRefused
from kith_common.settings import SettingsError, load_settings
from kith_common.ssrf import HostRefused, check_address, parse_allowed_hosts
from kith_common.testing.fake_monica import FakeMonicaServer

TOKEN = "test-token"


async def test_an_allowed_cidr_reaches_a_private_monica_over_http(server: FakeMonicaServer) -> None:
    allowed = parse_allowed_hosts("monica.lan, 127.0.0.0/8")
    async with MonicaClient(server.url, TOKEN, allowed_hosts=allowed) as client:
        assert (await client.me())["name"] == "Ada Lovelace"
    elsewhere = parse_allowed_hosts("10.0.0.0/8")
    async with MonicaClient(server.url, TOKEN, allowed_hosts=elsewhere) as client:
        with pytest.raises(MonicaRefused, match="KITH_IMPORT_ALLOWED_HOSTS"):
            await client.me()


def test_an_allowed_host_name_admits_its_private_address_only_under_that_name() -> None:
    allowed = parse_allowed_hosts("Monica.LAN.")
    private = ipaddress.ip_address("10.1.2.3")
    check_address("monica.lan", private, allow_private=False, allowed=allowed)
    with pytest.raises(HostRefused, match=r"refusing to contact other\.lan: it is a private"):
        check_address("other.lan", private, allow_private=False, allowed=allowed)


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/", "http://[fe80::1]/", "http://[fd00:ec2::254]/"]
)
async def test_metadata_and_link_local_are_refused_even_when_private_hosts_are_allowed(
    url: str,
) -> None:
    allowed = parse_allowed_hosts("169.254.0.0/16, fe80::/10, fd00::/8")
    async with MonicaClient(url, TOKEN, allow_private=True, allowed_hosts=allowed) as client:
        with pytest.raises(MonicaRefused, match="link-local or cloud metadata"):
            await client.me()


async def test_a_refusal_names_the_host_typed_not_the_address_it_resolved_to() -> None:
    async with MonicaClient("http://localhost:9/", TOKEN) as client:
        with pytest.raises(MonicaRefused) as caught:
            await client.me()
    message = caught.value.message
    assert message.startswith("refusing to contact localhost: it is a loopback address")
    assert "127.0.0.1" not in message
    assert "::1" not in message


def test_a_bad_allowed_hosts_entry_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KITH_IMPORT_ALLOWED_HOSTS", "monica.lan, not a host!")
    with pytest.raises(SettingsError, match="KITH_IMPORT_ALLOWED_HOSTS"):
        load_settings()
