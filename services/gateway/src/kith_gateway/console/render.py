"""Jinja2 rendering of the console's templates (autoescaped: every value is untrusted)."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"

_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


# The request's banner sentences (services not running or just restarted), set by
# `access.page` for a signed-in page and read by base.html through `render`.
SERVICE_NOTICES: ContextVar[tuple[str, ...]] = ContextVar("service_notices", default=())


def render(template: str, **values: Any) -> str:
    values.setdefault("service_notices", SERVICE_NOTICES.get())
    return _env.get_template(template).render(**values)
