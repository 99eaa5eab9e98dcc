"""/v1/photos/{id}/content and /v1/documents/{id}/content: the stored bytes (any role)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from fastapi.responses import Response

from kith_gateway.deps import Context, Session, Viewer
from kith_gateway.downloads import file_response
from kith_gateway.services import media

ItemId = Annotated[int, Path(ge=1, description="The photo's or document's id.")]
IfNoneMatch = Annotated[str | None, Header(max_length=1000)]

_BYTES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The stored bytes; `ETag` is their SHA-256.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    304: {"description": "Not modified: `If-None-Match` named the current ETag."},
}


def _content_route(path: str, *, attachment: bool) -> Any:
    async def content(
        session: Session,
        caller: Viewer,
        ctx: Context,
        item_id: ItemId,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        stored = await media.read(
            session,
            ctx.settings.storage_url,
            caller,
            path,
            item_id,
            if_none_match=if_none_match,
        )
        return file_response(stored, attachment=attachment)

    return content


router = APIRouter()
for _path, _singular, _attachment in (("photos", "photo", False), ("documents", "document", True)):
    router.add_api_route(
        f"/{_path}/{{item_id}}/content",
        _content_route(_path, attachment=_attachment),
        methods=["GET"],
        response_class=Response,
        responses=_BYTES,
        tags=[_path],
        operation_id=f"get_{_singular}_content",
        summary=f"The {_singular}'s bytes",
    )
