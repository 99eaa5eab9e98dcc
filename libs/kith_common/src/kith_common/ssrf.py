"""The SSRF guard for user-supplied URLs (ARCHITECTURE §6, importer.md §2).

Every request to a user-named host resolves the name once, refuses loopback, private, link-local,
CGNAT, unspecified, multicast and reserved addresses (and IPv4-mapped or 6to4/NAT64 forms of
them) unless the operator allows private hosts, and then connects to *that* address: the URL's
host is replaced by the checked IP while the `Host` header and the TLS server name keep the
name, so a DNS answer that changes between check and connect (rebinding) cannot redirect us.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from typing import Final

import httpx

from kith_common.errors import Permanent

__all__ = ["GuardedTransport", "HostRefused", "check_address", "resolve_checked"]

_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_EXTRA_BLOCKED: Final = (
    _CGNAT,
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("198.18.0.0/15"),
    ipaddress.ip_network("64:ff9b::/96"),
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class HostRefused(Permanent):
    """The guard refused the host; the message is readable and names the address class."""

    code = "host-refused"


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _refusal(address: IPAddress) -> str | None:
    """Why `address` is refused, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None:
            return _refusal(inner)
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_multicast, "a multicast address"),
        (
            any(address in net for net in _EXTRA_BLOCKED if net.version == address.version),
            "a carrier-grade NAT or reserved address",
        ),
        (address.is_private, "a private network address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "a non-public address"),
    )
    for refused, reason in checks:
        if refused:
            return reason
    return None


def check_address(host: str, address: IPAddress, *, allow_private: bool) -> None:
    """Raise HostRefused when `address` (what `host` resolved to) must not be contacted."""
    if allow_private:
        return
    reason = _refusal(address)
    if reason is not None:
        msg = (
            f"refusing to contact {host}: it resolves to {reason} ({address}); "
            "set KITH_IMPORT_ALLOW_PRIVATE_HOSTS to allow it"
        )
        raise HostRefused(msg)


async def resolve_checked(host: str, port: int, *, allow_private: bool) -> IPAddress:
    """Resolve `host` once and return the first address, every answer checked.

    All answers are checked, not only the one used: a name with one public and one private
    answer is refused rather than leaving the choice to the resolver's order.
    """
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        check_address(host, literal, allow_private=allow_private)
        return literal
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        msg = f"cannot resolve {host}: {err.strerror or err}"
        raise httpx.ConnectError(msg) from err
    addresses: list[IPAddress] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]
        address = ipaddress.ip_address(raw)
        check_address(host, address, allow_private=allow_private)
        addresses.append(address)
    if not addresses:
        msg = f"cannot resolve {host}: no address"
        raise httpx.ConnectError(msg)
    return addresses[0]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process, shared by every Monica client.

    Building one loads the whole CA bundle: ~60 ms of CPU, paid by every crawl, misc phase
    and photo sync that opened a client. A context only holds settings and trust roots, so
    sharing it between connections is safe.
    """
    return httpx.create_ssl_context()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that connects only to checked addresses (no second resolution)."""

    def __init__(self, *, allow_private: bool, inner: httpx.AsyncBaseTransport | None = None):
        self._allow_private = allow_private
        self._inner = inner or httpx.AsyncHTTPTransport(retries=0, verify=_tls_context())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            msg = f"refusing the {url.scheme}: scheme; only http and https are allowed"
            raise HostRefused(msg)
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await resolve_checked(host, port, allow_private=self._allow_private)
        ip_host = str(address)
        request.url = url.copy_with(host=ip_host)
        request.headers["Host"] = url.netloc.decode("ascii")
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
