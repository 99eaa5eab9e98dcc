"""Opaque keyset cursors: base64url JSON of the last row's sort key (gateway.md conventions).

A cursor names its list (`k`), so a cursor from another list or status is refused with 400
instead of silently paging something else.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Query

from kith_gateway.problems import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (1–200).")]
Cursor = Annotated[
    str | None,
    Query(max_length=1000, description="Opaque cursor from the previous page's `next_cursor`."),
]


def encode(kind: str, **key: Any) -> str:
    raw = json.dumps({"k": kind, **key}, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(
    cursor: str | None, kind: str, fields: dict[str, type | tuple[type, ...]]
) -> dict[str, Any] | None:
    """The key of `cursor`, checked against `fields`; None for the first page.

    Raises:
        BadRequest: malformed, or made for another list.
    """
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as err:
        raise BadRequest("the cursor is malformed", code="invalid-cursor") from err
    if not isinstance(value, dict) or value.get("k") != kind:
        raise BadRequest("the cursor belongs to another list", code="invalid-cursor")
    for name, expected in fields.items():
        item = value.get(name)
        if isinstance(item, bool) or not isinstance(item, expected):
            raise BadRequest("the cursor is malformed", code="invalid-cursor")
    return value
