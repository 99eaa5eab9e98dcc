"""Shapes shared by many endpoints: pages, accepted operations, the strict request base."""

from __future__ import annotations

import functools
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Strict(BaseModel):
    """Request bodies refuse unknown fields (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


class PageMeta(BaseModel):
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )
    has_more: bool
    prev_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` for the page before this one; null on the first page.",
    )
    total: int | None = Field(
        default=None,
        ge=0,
        description="How many items the whole list holds, when asked for (`with_total=true`).",
    )


class Page(BaseModel, Generic[T]):
    data: list[T]
    meta: PageMeta

    def __class_getitem__(cls, params: Any) -> Any:
        """`Page[NoteOut]` is a subclass named `NoteOutPage`, so the OpenAPI document names it
        that (pydantic would name the parametrized generic `Page_NoteOut_`)."""
        generic = super().__class_getitem__(params)
        if cls is not Page or not isinstance(params, type):
            return generic
        return _named_page(generic, f"{params.__name__}Page")


@functools.cache
def _named_page(generic: type[BaseModel], name: str) -> type[BaseModel]:
    """One class per item type (two classes of one name would clash in the document)."""
    return type(name, (generic,), {"__module__": __name__, "__doc__": generic.__doc__})


class Accepted(BaseModel):
    """A long operation was accepted (202); follow `status_url`."""

    id: str
    status_url: str


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, served as `application/problem+json`."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="`/problems/<code>`, stable for clients to branch on.")
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(default=None, description="422: the fields at fault.")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` entries for problem+json answers."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "description": "A problem (RFC 9457).",
            "content": {"application/problem+json": {"schema": schema}},
        }
        for status in statuses
    }
