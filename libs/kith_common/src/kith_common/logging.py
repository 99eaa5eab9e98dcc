"""structlog configuration: JSON or console output, bound context, secrets redacted.

Secrets are never passed to a log call (CONVENTIONS §8); `redact_secrets` is the backstop for
the day someone does: any field whose name looks secret, and any value that looks like a Kith
token or a URL with credentials, is replaced before rendering.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import IO, Any

import structlog

REDACTED = "[redacted]"
_SECRET_NAMES = re.compile(
    r"(pass(word)?|secret|token|api_?key|authorization|cookie|credential)", re.IGNORECASE
)
_TOKEN_VALUE = re.compile(r"kith_[A-Za-z0-9_\-]{20,}")
_BEARER_VALUE = re.compile(r"(Bearer\s+)[^\s\"']+", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(\w+://[^/\s:@]+:)[^@\s/]+@")
# Fields whose names match _SECRET_NAMES but hold no secret.
_SAFE_NAMES = frozenset({"token_prefix", "token_id", "token_name", "storage_key", "match_key"})


# The logger every service's broker is given. At INFO FastStream reports each subscriber task's
# end ("callback for Task-7 is being executed..."); only its warnings and errors are kept.
BROKER_LOGGER = "kith.broker"


def redact_text(text: str) -> str:
    """Blank token-, bearer- and credential-looking parts of free text (errors, letters)."""
    return str(_scrub(text))


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        value = _TOKEN_VALUE.sub(REDACTED, value)
        value = _BEARER_VALUE.sub(r"\1" + REDACTED, value)
        return _URL_CREDENTIALS.sub(r"\1" + REDACTED + "@", value)
    if isinstance(value, dict):
        return {k: (REDACTED if _is_secret_name(k) else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def _is_secret_name(name: object) -> bool:
    return isinstance(name, str) and name not in _SAFE_NAMES and bool(_SECRET_NAMES.search(name))


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: blank secret-named fields and secret-looking values."""
    for key in list(event_dict):
        if _is_secret_name(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


LIBRARY_CHATTER = ("alembic", "httpx", "httpcore")


def configure_logging(
    *, service: str, log_format: str = "json", level: str = "info", stream: IO[str] | None = None
) -> None:
    """Route structlog and stdlib logging through one pipeline with `service` bound."""
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _add_service(service),
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", BROKER_LOGGER):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Library chatter at info (alembic's plugin set-up, httpx's line per request) buries what
    # matters; it comes back with level=debug.
    chatter_level = logging.DEBUG if level.lower() == "debug" else logging.WARNING
    for chatty in LIBRARY_CHATTER:
        logging.getLogger(chatty).setLevel(chatter_level)
    _adopt_faststream_logger()


def _adopt_faststream_logger() -> None:
    """FastStream's module logger keeps a handler of its own and stops propagation, which would
    put its warnings outside the JSON pipeline; hand them to the root handler instead."""
    own = logging.getLogger("faststream")
    own.handlers[:] = []
    own.propagate = True


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to `sys.stderr` as it is at each record, not as it was when logging was set up.

    A test runner swaps and closes its capture streams, and a thread that outlives one (a
    uvicorn server in a test) would otherwise fail with "I/O operation on closed file".
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        """`StreamHandler` assigns its stream; the current `sys.stderr` always wins."""


def _add_service(service: str) -> Any:
    def processor(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    return processor
