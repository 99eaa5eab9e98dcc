"""The bytes of a stored photo or document, read through the storage backend.

Access is the row's: the file is served only when the caller's account has the row (any
role may read). A row whose file is missing from storage stays (a retry of the media sync
can bring the file back); the reader gets a 404 with a readable detail and the operator one
warning per request.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.errors import NotFound, Transient
from kith_common.storage import StorageError, open_storage
from kith_gateway.deps import Principal
from kith_gateway.services.records import BY_PATH, load

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """What a response needs; `data` is None when the client's copy is current (304)."""

    data: bytes | None
    content_type: str
    file_name: str | None
    etag: str | None


def _matches(if_none_match: str | None, etag: str | None) -> bool:
    if if_none_match is None or etag is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


async def read(
    session: AsyncSession,
    storage_url: str,
    principal: Principal,
    path: str,
    item_id: int,
    *,
    if_none_match: str | None,
) -> StoredFile:
    """The file of photo or document `item_id` (`path`: photos or documents).

    Raises:
        NotFound: no such row in the account, or its file is missing from storage.
        Transient: the storage backend failed.
    """
    kind = BY_PATH[path]
    row = await load(session, principal.account_id, kind, item_id)
    etag = f'"{row.content_hash}"' if row.content_hash else None
    if _matches(if_none_match, etag):
        return StoredFile(None, row.content_type, row.file_name, etag)
    storage = open_storage(storage_url)
    try:
        data = await storage.get(row.storage_key)
    except FileNotFoundError as err:
        log.warning("stored_file_missing", kind=kind.singular, item_id=row.id)
        raise NotFound(
            f"the file of this {kind.singular} is missing from storage", code="file-missing"
        ) from err
    except StorageError as err:
        log.warning("stored_file_unreadable", kind=kind.singular, item_id=row.id)
        raise Transient("storage is unavailable", code="storage-unavailable") from err
    return StoredFile(data, row.content_type, row.file_name, etag)
