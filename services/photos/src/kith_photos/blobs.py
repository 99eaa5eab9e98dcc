"""Files of photos a merge dropped (dedup.md §5.3 step 7): the merge deleted the rows and named
the keys in `kith.evt.contacts.merged`; this deletes the files.

A key outside the event's account, or one a photo or document row still names, is never
touched, so a replayed or forged event cannot delete a live file. A file already gone counts as
missing, not as an error, which makes a redelivery harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.storage import Storage, account_prefix
from kith_photos import queries
from kith_photos.metrics import FILES_DELETED

__all__ = ["DroppedFiles", "delete_dropped_files"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DroppedFiles:
    deleted: int
    missing: int
    kept: int


async def delete_dropped_files(
    session: AsyncSession, storage: Storage, *, account_id: int, keys: Sequence[str]
) -> DroppedFiles:
    """Delete the dropped photos' files; raises StorageError (retried) on a backend failure."""
    prefix = account_prefix(account_id)
    own = [key for key in dict.fromkeys(keys) if key.startswith(prefix) and ".." not in key]
    in_use = await queries.keys_in_use(session, own)
    deleted = missing = 0
    for key in own:
        if key in in_use:
            continue
        if await storage.delete(key):
            deleted += 1
        else:
            missing += 1
    kept = len(keys) - deleted - missing
    for result, count in (("deleted", deleted), ("missing", missing), ("kept", kept)):
        FILES_DELETED.labels(result).inc(count)
    if keys:
        log.info("merged_photo_files_deleted", deleted=deleted, missing=missing, kept=kept)
    return DroppedFiles(deleted, missing, kept)
