"""The SSRF guard for user-supplied URLs (ARCHITECTURE §6, importer.md §2).

Every request to a user-named host resolves the name once, refuses loopback, private, link-local,
CGNAT, unspecified, multicast and reserved addresses (and IPv4-mapped or 6to4/NAT64 forms of
them) unless the operator allows them, and then connects to *that* address: the URL's host is
replaced by the checked IP while the `Host` header and the TLS server name keep the name, so a
DNS answer that changes between check and connect (rebinding) cannot redirect us.

The operator allows non-public hosts one by one with `KITH_IMPORT_ALLOWED_HOSTS` (host names
and CIDRs), or all of them with `KITH_IMPORT_ALLOW_PRIVATE_HOSTS`. Link-local addresses and the
cloud metadata endpoints are refused whatever either says: they hand out cloud credentials.
A refusal names the host the user typed, never the address it resolved to (an internal
address is not the user's business).
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

__all__ = [
    "AllowedHosts",
    "GuardedTransport",
    "HostRefused",
    "check_address",
    "parse_allowed_hosts",
    "resolve_checked",
]

_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_EXTRA_BLOCKED: Final = (
    _CGNAT,
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("198.18.0.0/15"),
    ipaddress.ip_network("64:ff9b::/96"),
)

# Never contacted, whatever the operator allows: link-local (169.254.0.0/16, fe80::/10, which
# hold AWS/GCP/Azure/OpenStack metadata) and metadata services elsewhere (AWS IPv6, Alibaba).
_METADATA: Final = (
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
AllowedHosts = tuple[str | Network, ...]


def parse_allowed_hosts(value: str) -> AllowedHosts:
    """`KITH_IMPORT_ALLOWED_HOSTS`: comma-separated host names and CIDRs (an IP is a /32).

    Raises:
        ValueError: an entry that is neither a host name nor a network.
    """
    entries: list[str | Network] = []
    for raw in value.split(","):
        entry = raw.strip().lower().strip("[]")
        if not entry:
            continue
        try:
            entries.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        labels = entry.rstrip(".").split(".")
        if not all(label and label.replace("-", "").isalnum() for label in labels):
            msg = f"{raw.strip()!r} is neither a host name nor an address or CIDR"
            raise ValueError(msg)
        entries.append(entry.rstrip("."))
    return tuple(entries)


def _never(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None:
            return _never(inner)
    return address.is_link_local or any(
        address in net for net in _METADATA if net.version == address.version
    )


def _allowed(host: str, address: IPAddress, allowed: AllowedHosts) -> bool:
    name = host.lower().strip("[]").rstrip(".")
    for entry in allowed:
        if isinstance(entry, str):
            if entry == name:
                return True
        elif entry.version == address.version and address in entry:
            return True
    return False


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


def check_address(
    host: str, address: IPAddress, *, allow_private: bool, allowed: AllowedHosts = ()
) -> None:
    """Raise HostRefused when `address` (what `host` resolved to) must not be contacted."""
    if _never(address):
        msg = (
            f"refusing to contact {host}: it is a link-local or cloud metadata address, "
            "never contacted whatever KITH_IMPORT_ALLOWED_HOSTS or "
            "KITH_IMPORT_ALLOW_PRIVATE_HOSTS say"
        )
        raise HostRefused(msg)
    if allow_private or _allowed(host, address, allowed):
        return
    reason = _refusal(address)
    if reason is not None:
        msg = (
            f"refusing to contact {host}: it is {reason}; to allow it, add it to "
            "KITH_IMPORT_ALLOWED_HOSTS (or set KITH_IMPORT_ALLOW_PRIVATE_HOSTS)"
        )
        raise HostRefused(msg)


async def resolve_checked(
    host: str, port: int, *, allow_private: bool, allowed: AllowedHosts = ()
) -> IPAddress:
    """Resolve `host` once and return the first address, every answer checked.

    All answers are checked, not only the one used: a name with one public and one private
    answer is refused rather than leaving the choice to the resolver's order.
    """
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        check_address(host, literal, allow_private=allow_private, allowed=allowed)
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
        check_address(host, address, allow_private=allow_private, allowed=allowed)
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

    def __init__(
        self,
        *,
        allow_private: bool,
        inner: httpx.AsyncBaseTransport | None = None,
        allowed: AllowedHosts = (),
    ):
        self._allow_private = allow_private
        self._allowed = allowed
        self._inner = inner or httpx.AsyncHTTPTransport(retries=0, verify=_tls_context())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            msg = f"refusing the {url.scheme}: scheme; only http and https are allowed"
            raise HostRefused(msg)
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await resolve_checked(
            host, port, allow_private=self._allow_private, allowed=self._allowed
        )
        ip_host = str(address)
        request.url = url.copy_with(host=ip_host)
        request.headers["Host"] = url.netloc.decode("ascii")
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
