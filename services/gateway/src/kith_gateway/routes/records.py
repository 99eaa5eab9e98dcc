"""/v1/<kind> and /v1/<kind>/{id} for every kind of record (`services.records.KINDS`).

The routes are made from the catalogue, so every kind gets the same list (keyset page,
`?contact_id=`, newest first) and the same one-item read; only the response model differs.
Journal entries belong to no contact, so their list has no `contact_id` filter.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from kith_gateway.deps import Session, Viewer
from kith_gateway.pagination import DEFAULT_LIMIT, Cursor, Limit
from kith_gateway.services import records
from kith_gateway.services.records import KINDS, Kind

_ORDER = (
    "Keyset-paged, newest first: by when the record happened (a call's or activity's"
    " `occurred_at`, a life event's day at 00:00 UTC, a journal entry's `occurred_at`), else"
    " by its creation; ties by id, so pages never skip or repeat a row."
)
ItemId = Annotated[int, Path(ge=1, description="The record's id.")]
ContactFilter = Annotated[
    int | None, Query(ge=1, description="Only this contact's records (404 if not yours).")
]


def _snake(kind: Kind) -> str:
    return kind.path.replace("-", "_")


def _list_route(kind: Kind) -> Any:
    if kind.by_contact:

        async def list_by_contact(
            session: Session,
            caller: Viewer,
            contact_id: ContactFilter = None,
            cursor: Cursor = None,
            limit: Limit = DEFAULT_LIMIT,
        ) -> Any:
            return await records.list_records(
                session, caller, kind, contact_id=contact_id, cursor=cursor, limit=limit
            )

        return list_by_contact

    async def list_all(
        session: Session, caller: Viewer, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> Any:
        return await records.list_records(
            session, caller, kind, contact_id=None, cursor=cursor, limit=limit
        )

    return list_all


def _item_route(kind: Kind) -> Any:
    async def get_one(session: Session, caller: Viewer, item_id: ItemId) -> Any:
        return await records.get_record(session, caller, kind, item_id)

    return get_one


def kind_router(kind: Kind) -> APIRouter:
    router = APIRouter(prefix=f"/{kind.path}", tags=[kind.path])
    router.add_api_route(
        "",
        _list_route(kind),
        methods=["GET"],
        response_model=kind.page,
        operation_id=f"list_{_snake(kind)}",
        summary=f"List {kind.path.replace('-', ' ')}, newest first",
        description=_ORDER,
    )
    router.add_api_route(
        "/{item_id}",
        _item_route(kind),
        methods=["GET"],
        response_model=kind.out,
        operation_id=f"get_{kind.singular.replace(' ', '_')}",
        summary=f"Read one {kind.singular}",
    )
    return router


router = APIRouter()
for _kind in KINDS:
    router.include_router(kind_router(_kind))
