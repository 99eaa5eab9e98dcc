"""Opaque keyset cursors: base64url JSON of the last row's sort key (gateway.md conventions).

A cursor names its list (`k`), so a cursor from another list or status is refused with 400
instead of silently paging something else. A `prev_cursor` is the same key with `"b": 1`: the
page *before* that row, read with the keyset reversed (never OFFSET). Going back to the start
returns the first page exactly as a cursor-less request does (`window`), so Previous from page
2 shows the rows page 1 showed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query

from kith_gateway.problems import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (1–200).")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=1000,
        description="Opaque cursor from a page's `next_cursor` (or `prev_cursor`, to go back).",
    ),
]
WithTotal = Annotated[
    bool,
    Query(description="Also count the whole list into `meta.total` (one count query)."),
]
R = TypeVar("R")


def encode(kind: str, **key: Any) -> str:
    raw = json.dumps({"k": kind, **key}, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_before(kind: str, **key: Any) -> str:
    """The cursor of the page that ends just before the row of `key` (a `prev_cursor`)."""
    return encode(kind, b=1, **key)


def is_before(key: dict[str, Any] | None) -> bool:
    """Whether a decoded cursor asks for the page before its row."""
    return key is not None and key.get("b") == 1


@dataclass(frozen=True, slots=True)
class Window(Generic[R]):
    """One page of rows in list order, and whether rows exist after and before it."""

    rows: Sequence[R]
    has_next: bool
    has_prev: bool


async def window(
    key: dict[str, Any] | None,
    limit: int,
    after: Callable[[dict[str, Any] | None], Awaitable[Sequence[R]]],
    before: Callable[[dict[str, Any]], Awaitable[Sequence[R]]],
) -> Window[R]:
    """The page a decoded cursor names, from two keyset reads.

    `after(key)` returns up to limit + 1 rows in list order after `key` (from the start for
    None); `before(key)` up to limit + 1 rows just before `key`, nearest first (the list's order
    reversed). A backward read that reaches the start answers with the first page itself.
    """
    if is_before(key):
        assert key is not None
        found = await before(key)
        if len(found) > limit:
            return Window(list(reversed(found[:limit])), has_next=True, has_prev=True)
        key = None
    found = await after(key)
    return Window(found[:limit], has_next=len(found) > limit, has_prev=key is not None)


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
