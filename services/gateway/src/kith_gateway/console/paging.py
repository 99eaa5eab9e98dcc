"""Where a console list page stands: "Showing 51–100 of 945", page 2 of 19, and its links.

The lists stay keyset-paged; the console only carries the page number (`page`) in the URL next
to the cursor, so it never counts rows before the page (an OFFSET in disguise). The total is one
count scoped to the account. Rows added or removed while someone pages can leave the number a
little off; the first page and the last page set it right again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query

from kith_gateway.pagination import DEFAULT_LIMIT
from kith_gateway.schemas.common import PageMeta

PageNumber = Annotated[int, Query(ge=1, le=10**6, description="The page's number, for display.")]


@dataclass(frozen=True, slots=True)
class Pager:
    """What the `pager` macro draws; links keep the list's own filters (`params`)."""

    path: str
    params: tuple[tuple[str, str], ...]
    number: int
    pages: int
    start: int
    end: int
    total: int
    next_cursor: str | None
    prev_cursor: str | None
    # A list inside a page (the contact's timeline) names its own parameters and anchor.
    cursor_param: str = "cursor"
    page_param: str = "page"
    fragment: str = ""

    def href(self, cursor: str | None, number: int) -> str:
        query = list(self.params)
        if cursor is not None:
            query += [(self.cursor_param, cursor), (self.page_param, str(number))]
        url = f"{self.path}?{urlencode(query)}" if query else self.path
        return url + self.fragment

    @property
    def first(self) -> str:
        return self.href(None, 1)

    @property
    def previous(self) -> str | None:
        if self.prev_cursor is None:
            return None
        return self.href(self.prev_cursor, self.number - 1)

    @property
    def next(self) -> str | None:
        if self.next_cursor is None:
            return None
        return self.href(self.next_cursor, self.number + 1)


def pager(
    path: str,
    *,
    number: int,
    size: int,
    shown: int,
    total: int,
    next_cursor: str | None,
    prev_cursor: str | None,
    params: dict[str, str] | None = None,
    cursor_param: str = "cursor",
    page_param: str = "page",
    fragment: str = "",
) -> Pager:
    """The position of a page of `shown` rows that the URL calls page `number`.

    The first page is page 1 whatever the URL says, and the last page ends at the total; in
    between the number is trusted, within the pages there are.
    """
    pages = max(1, -(-total // size))
    if prev_cursor is None:
        number = 1
    elif next_cursor is None:
        number = pages
    else:
        number = min(max(number, 2), max(pages - 1, 2))
    start = (number - 1) * size + 1
    if next_cursor is None and prev_cursor is not None:
        start = max(1, total - shown + 1)
    end = start + shown - 1 if shown else 0
    kept = tuple((k, v) for k, v in (params or {}).items() if v)
    return Pager(
        path=path,
        params=kept,
        number=number,
        pages=pages,
        start=start if shown else 0,
        end=end,
        total=max(total, end),
        next_cursor=next_cursor,
        prev_cursor=prev_cursor,
        cursor_param=cursor_param,
        page_param=page_param,
        fragment=fragment,
    )


def pager_of(path: str, meta: PageMeta, number: int, shown: int, **params: str) -> Pager:
    """`pager` for an API page of the default size counted with `with_total`."""
    return pager(
        path,
        number=number,
        size=DEFAULT_LIMIT,
        shown=shown,
        total=meta.total or 0,
        next_cursor=meta.next_cursor,
        prev_cursor=meta.prev_cursor,
        params=params,
    )
