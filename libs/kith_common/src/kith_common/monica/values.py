"""Reading loosely typed values out of Monica's JSON, shared by every service that lists it."""

from __future__ import annotations

from typing import Any

__all__ = ["as_int"]


def as_int(value: Any) -> int | None:
    """An id: an int, or a string of digits; anything else (a bool included) is None.

    Monica serialises ids as numbers, but older instances and some relations send digit
    strings; a bool is an int to Python and never an id.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
