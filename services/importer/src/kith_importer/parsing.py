"""Lenient reading of Monica objects (importer.md §13): bad input becomes a readable problem.

Monica's JSON is read field by field. A wrong type, a missing key, an invalid date, a NUL byte
or an over-long string never aborts an item: the value is dropped (or cleaned) and a problem
naming the field is recorded, so the caller can import the item without it and report
"Contact 1175 (Ann Lee): birthdate: not a date".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Final

from kith_common.monica.values import as_int

__all__ = [
    "MAX_LONG_TEXT",
    "MAX_SHORT_TEXT",
    "Problems",
    "SpecialDate",
    "as_bool",
    "as_dict",
    "as_int",
    "as_list",
    "as_text",
    "parse_date",
    "special_date",
]

MAX_SHORT_TEXT: Final = 255
MAX_LONG_TEXT: Final = 100_000
_DATE: Final = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


@dataclass
class Problems:
    """Field problems of one item, in the order found."""

    items: list[str] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        self.items.append(f"{name}: {message}")


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_bool(value: Any, name: str, problems: Problems, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return bool(int(value))
    problems.add(name, "not true or false")
    return default


def as_text(
    value: Any, name: str, problems: Problems, *, limit: int = MAX_SHORT_TEXT
) -> str | None:
    """Trimmed text or None; NULs stripped and long text truncated, each reported."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.add(name, f"expected text, got {type(value).__name__}")
        return None
    text = str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
        problems.add(name, "NUL characters removed")
    text = text.strip()
    if len(text) > limit:
        text = text[:limit]
        problems.add(name, f"truncated to {limit} characters")
    return text or None


def parse_date(value: Any) -> dt.date | None:
    """The calendar day of a Monica date, timestamp or Carbon string (API §1); None if bad."""
    if not isinstance(value, str):
        return None
    match = _DATE.match(value.strip())
    if match is None:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        day = parse_date(text)
        return dt.datetime.combine(day, dt.time(), dt.UTC) if day else None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class SpecialDate:
    """Monica's SpecialDate (API §8): a day, and whether its year is a placeholder."""

    date: dt.date | None
    year_unknown: bool
    age_based: bool


def special_date(value: Any, name: str, problems: Problems) -> SpecialDate:
    data = as_dict(value)
    raw = data.get("date")
    day = parse_date(raw)
    if raw is not None and day is None:
        problems.add(name, "not a valid date")
    return SpecialDate(
        date=day,
        year_unknown=data.get("is_year_unknown") is True,
        age_based=data.get("is_age_based") is True,
    )


def jsonb_safe(value: Any) -> Any:
    """jsonb refuses NUL characters (\\u0000); Monica text may carry them (importer.md §13)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {jsonb_safe(k): jsonb_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonb_safe(v) for v in value]
    return value


__all__ += ["jsonb_safe", "parse_timestamp"]
