"""The error hierarchy every service raises (CONVENTIONS §7).

`Permanent` errors are answered as 4xx over HTTP and dead-lettered at once on the bus;
`Transient` ones are 503 over HTTP and nacked with the consumer's delay on the bus.
`code` is a stable kebab-case slug clients can branch on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class KithError(Exception):
    """Base of every domain error: a stable `code` and a human `detail`."""

    status: int = 500
    code: str = "internal-error"

    def __init__(self, detail: str = "", *, code: str | None = None) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        if code is not None:
            self.code = code


class Permanent(KithError):
    """Retrying cannot help: bad input, missing row, forbidden, conflicting state."""

    status = 400
    code = "bad-request"


class NotFound(Permanent):
    """Also the answer for another account's id, so ids leak nothing."""

    status = 404
    code = "not-found"


class Conflict(Permanent):
    status = 409
    code = "conflict"


class InvalidInput(Permanent):
    """422 with a field list, each `{"field": ..., "message": ...}`."""

    status = 422
    code = "invalid-input"

    def __init__(
        self,
        detail: str = "",
        *,
        code: str | None = None,
        errors: Sequence[dict[str, Any]] = (),
    ) -> None:
        super().__init__(detail, code=code)
        self.errors = list(errors)


class Forbidden(Permanent):
    status = 403
    code = "forbidden"


class Unauthenticated(Permanent):
    status = 401
    code = "unauthenticated"


class Transient(KithError):
    """Worth retrying later: a dependency is down or busy."""

    status = 503
    code = "temporarily-unavailable"


class StaleGeneration(Permanent):
    """The account was reset since this work was produced; the work must not write.

    On the bus this is acked with no effect (ARCHITECTURE §5), not dead-lettered.
    """

    status = 409
    code = "stale-generation"
