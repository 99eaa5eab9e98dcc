"""Jinja2 rendering of the console's templates (autoescaped: every value is untrusted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from kith_common.progress import eta_text

_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"

_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _eta(progress: Any) -> str:
    """An import's time left, worded as the CLI words it (`ImportProgressOut` or a dict)."""
    dump = getattr(progress, "model_dump", None)
    return eta_text(dump() if callable(dump) else progress or {})


_env.filters["eta"] = _eta


def render(template: str, **values: Any) -> str:
    return _env.get_template(template).render(**values)
