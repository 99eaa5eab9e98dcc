"""`kith.evt.contacts.merged` → delete the files of the photos the merge dropped."""

from __future__ import annotations

from kith_common.bus.subscribe import Handler, MessageContext
from kith_common.events.payloads.contacts import ContactsMerged
from kith_common.storage import Storage
from kith_photos.blobs import delete_dropped_files

__all__ = ["merged_handler"]


def merged_handler(storage: Storage) -> Handler:
    async def handle(ctx: MessageContext[ContactsMerged]) -> None:
        account_id = ctx.envelope.account_id
        if account_id is None or not ctx.data.dropped_photo_storage_keys:
            return
        await delete_dropped_files(
            ctx.tx, storage, account_id=account_id, keys=ctx.data.dropped_photo_storage_keys
        )

    return handle
