"""The Monica base URL: one normalisation, used by the gateway and every phase (importer.md §2).

`normalize_api_url` trims, accepts only http(s), strips trailing slashes and a trailing `/api`
(keeping any path prefix), and refuses userinfo, query and fragment: a URL that carries those
would either leak a secret or silently change every request. `source_instance` names the
instance in `import_records.source`, so two Monica instances never collide.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from kith_common.errors import InvalidInput
from kith_common.ssrf import AllowedHosts, HostRefused, check_address

__all__ = ["api_root", "checked_api_url", "normalize_api_url", "source_instance", "source_name"]


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(
        message, code="invalid-api-url", errors=[{"field": "api_url", "message": message}]
    )


def normalize_api_url(raw: str) -> str:
    """The canonical base URL (`https://h/monica`), without the `/api` suffix.

    Raises:
        InvalidInput: not http(s), no host, userinfo, a query or a fragment.
    """
    value = raw.strip()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as err:
        raise _invalid(f"not a valid URL: {err}") from err
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _invalid("the Monica URL must start with http:// or https://")
    if not parts.hostname:
        raise _invalid("the Monica URL has no host name")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _invalid("the Monica URL must not contain a user name or password")
    if parts.query or value.endswith("?"):
        raise _invalid("the Monica URL must not contain a query (?...)")
    if parts.fragment or "#" in value:
        raise _invalid("the Monica URL must not contain a fragment (#...)")
    path = parts.path.rstrip("/")
    while path.lower().endswith("/api"):
        path = path[: -len("/api")].rstrip("/")
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((scheme, netloc, path, "", ""))


def checked_api_url(raw: str, *, allow_private: bool, allowed: AllowedHosts = ()) -> str:
    """`normalize_api_url`, refusing at once a host the SSRF guard can only refuse.

    An IP literal (or `localhost`) is decided without DNS, so a request naming the cloud
    metadata address or a private network gets a 422 now instead of an import that fails a
    moment later. Host names are left to the connection-time guard: only the resolver the
    importer uses may say where they point.

    Raises:
        InvalidInput: as `normalize_api_url`, or with code `host-refused`.
    """
    url = normalize_api_url(raw)
    host = urlsplit(url).hostname or ""
    try:
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        return url
    try:
        check_address(host, address, allow_private=allow_private, allowed=allowed)
    except HostRefused as err:
        raise InvalidInput(
            err.detail, code="host-refused", errors=[{"field": "api_url", "message": err.detail}]
        ) from None
    return url


def api_root(base_url: str) -> str:
    """`{base}/api`: where every endpoint lives."""
    return normalize_api_url(base_url) + "/api"


def source_instance(base_url: str) -> str:
    """Lowercased `host[:port]/path` of the normalised URL (no scheme)."""
    parts = urlsplit(normalize_api_url(base_url))
    return (parts.netloc + parts.path).lower()


def source_name(base_url: str) -> str:
    """`import_records.source` of a Monica import: `monica_api:<source_instance>`."""
    return f"monica_api:{source_instance(base_url)}"
