"""Readable failures of Monica requests (importer.md §2, §13).

Each carries a sentence a user can act on and a machine `code` (the connection check's reply
codes). None ever contains the API key: messages are built from the endpoint, page and status
only, never from request headers.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "MonicaAuthError",
    "MonicaBadResponse",
    "MonicaError",
    "MonicaHttpError",
    "MonicaNotFound",
    "MonicaNotJson",
    "MonicaRefused",
    "MonicaTooLarge",
    "MonicaUnavailable",
]

Code = Literal["invalid_key", "not_monica", "not_found", "refused_host", "unreachable", "error"]


class MonicaError(Exception):
    """A Monica request failed for good (retries, if any applied, are spent)."""

    code: Code = "error"
    transient = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class MonicaAuthError(MonicaError):
    code: Code = "invalid_key"


class MonicaNotJson(MonicaError):
    """A 200 that is a web page (login, maintenance, the web UI) or otherwise not JSON."""

    code: Code = "not_monica"


class MonicaNotFound(MonicaError):
    code: Code = "not_found"


class MonicaRefused(MonicaError):
    """The SSRF guard refused the host or scheme."""

    code: Code = "refused_host"


class MonicaHttpError(MonicaError):
    """Any other non-retryable status (400, 403, 405, 422, ...)."""


class MonicaBadResponse(MonicaError):
    """JSON of the wrong shape: `data` not a list, broken `meta`, ..."""


class MonicaTooLarge(MonicaError):
    """The body exceeded `KITH_MONICA_MAX_RESPONSE_BYTES`."""


class MonicaUnavailable(MonicaError):
    """Timeouts, connection errors, 429, 408 or 5xx, still failing after every retry."""

    code: Code = "unreachable"
    transient = True
