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
    "MonicaInterrupted",
    "MonicaNotFound",
    "MonicaNotJson",
    "MonicaRefused",
    "MonicaRetryLater",
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


class MonicaRetryLater(MonicaUnavailable):
    """Monica's 429 asked for a longer wait than `KITH_MONICA_MAX_RETRY_AFTER_SECONDS`.

    Transient for the code between a request and its phase (nothing records it as one item's
    problem and goes on), but the phase fails at once with this message instead of holding a
    worker for up to an hour per retry: the user starts the import again later.
    """


class MonicaInterrupted(Exception):  # a signal, like asyncio.CancelledError
    """The request was stopped in flight because its import is stopping (cancel, lost lease).

    Not a MonicaError: no phase may record it as an item's failure and go on.
    """
