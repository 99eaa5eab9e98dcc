"""SQL of the photos service: photos, documents, their import mappings, and the media phase's
own columns of the import row (`sync_summary`, the heartbeat) and its staging checkpoint.

Nothing here commits; every function runs in the caller's (fenced) transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import delete, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import Contact, Document, Import, ImportRecord, ImportStaging, Photo

__all__ = [
    "CHECKPOINT_KIND",
    "Resolution",
    "db_epoch",
    "document_hashes",
    "drop_checkpoint",
    "insert_media",
    "keys_in_use",
    "lock_import",
    "photo_hashes",
    "read_checkpoint",
    "recorded",
    "release_lease",
    "resolve_contacts",
    "set_avatars_if_unset",
    "touch_lease",
    "upsert_record",
    "upsert_records",
    "write_checkpoint",
    "write_sync_summary",
]

CHECKPOINT_KIND: Final = "media"
_CHECKPOINT_KEY: Final = "checkpoint"
_MAX_MERGE_HOPS: Final = 20


async def lock_import(session: AsyncSession, import_id: int) -> Import | None:
    """The import row, locked `FOR UPDATE` and re-read (status moves and the media lease)."""
    return await session.scalar(
        select(Import)
        .where(Import.id == import_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def db_epoch(session: AsyncSession) -> float:
    """The database clock (seconds): leases compare times from one clock only."""
    value = await session.scalar(select(func.extract("epoch", func.clock_timestamp())))
    return float(value or 0.0)


async def read_checkpoint(session: AsyncSession, import_id: int) -> dict[str, Any] | None:
    return await session.scalar(
        select(ImportStaging.payload).where(
            ImportStaging.import_id == import_id,
            ImportStaging.kind == CHECKPOINT_KIND,
            ImportStaging.key == _CHECKPOINT_KEY,
        )
    )


async def write_checkpoint(
    session: AsyncSession, *, account_id: int, import_id: int, payload: dict[str, Any]
) -> None:
    stmt = insert(ImportStaging).values(
        account_id=account_id,
        import_id=import_id,
        kind=CHECKPOINT_KIND,
        key=_CHECKPOINT_KEY,
        payload=payload,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["import_id", "kind", "key"],
            set_={"payload": stmt.excluded.payload, "updated_at": func.now()},
        )
    )


async def touch_lease(session: AsyncSession, import_id: int, owner: str) -> bool:
    """Refresh the media lease (and the import heartbeat) while `owner` still holds it.

    Locks the import row first, like every page transaction, so the two never deadlock.
    """
    await session.execute(
        update(Import).where(Import.id == import_id).values(heartbeat_at=func.now())
    )
    # text(): jsonb_set on one key, so the page transaction's checkpoint is never overwritten.
    result = await session.execute(
        text(
            "UPDATE import_staging SET payload = jsonb_set(payload, '{lease_at}', "
            "to_jsonb(extract(epoch FROM clock_timestamp())::float8)), updated_at = now() "
            "WHERE import_id = :import_id AND kind = :kind AND key = :key "
            "AND payload->>'owner' = :owner"
        ),
        {"import_id": import_id, "kind": CHECKPOINT_KIND, "key": _CHECKPOINT_KEY, "owner": owner},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_lease(session: AsyncSession, import_id: int, owner: str) -> None:
    """Give the media lease up (the run stops to be retried): a redelivery takes it at once."""
    # text(): jsonb_set on one key, as in touch_lease.
    await session.execute(
        text(
            "UPDATE import_staging SET payload = jsonb_set(payload, '{owner}', 'null'::jsonb) "
            "WHERE import_id = :import_id AND kind = :kind AND key = :key "
            "AND payload->>'owner' = :owner"
        ),
        {"import_id": import_id, "kind": CHECKPOINT_KIND, "key": _CHECKPOINT_KEY, "owner": owner},
    )


async def drop_checkpoint(session: AsyncSession, import_id: int, *, whole_import: bool) -> None:
    """Drop the media checkpoint; `whole_import` drops every staging row (no phase is left)."""
    stmt = delete(ImportStaging).where(ImportStaging.import_id == import_id)
    if not whole_import:
        stmt = stmt.where(ImportStaging.kind == CHECKPOINT_KIND)
    await session.execute(stmt)


async def write_sync_summary(
    session: AsyncSession, import_id: int, summary: dict[str, Any]
) -> None:
    """`sync_summary` plus the import's heartbeat (the reset and the sweeper watch it)."""
    await session.execute(
        update(Import)
        .where(Import.id == import_id)
        .values(sync_summary=summary, heartbeat_at=func.now(), updated_at=func.now())
    )


# --- contacts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a Monica contact id leads: a live local contact, or the not_found reason."""

    contact_id: int | None
    reason: str | None


async def resolve_contacts(
    session: AsyncSession, *, account_id: int, source: str, monica_ids: Iterable[int]
) -> dict[int, Resolution]:
    """Resolve Monica contact ids through `import_records`, following merges to the survivor.

    A mapping whose contact row is gone counts as no mapping (`contact_not_found`); a
    soft-deleted contact that was not merged is `contact_deleted`.
    """
    wanted = {str(i): i for i in set(monica_ids)}
    if not wanted:
        return {}
    rows = (
        await session.execute(
            select(ImportRecord.source_entity_id, ImportRecord.local_entity_id).where(
                ImportRecord.account_id == account_id,
                ImportRecord.source == source,
                ImportRecord.source_entity_type == "contact",
                ImportRecord.local_entity_type == "contact",
                ImportRecord.source_entity_id.in_(wanted),
            )
        )
    ).all()
    local_of = {wanted[source_id]: local_id for source_id, local_id in rows}
    state: dict[int, tuple[int | None, bool]] = {}  # local id → (merged_into_id, deleted)
    pending = set(local_of.values())
    for _hop in range(_MAX_MERGE_HOPS):
        if not pending:
            break
        found = (
            await session.execute(
                select(Contact.id, Contact.merged_into_id, Contact.deleted_at).where(
                    Contact.account_id == account_id, Contact.id.in_(pending)
                )
            )
        ).all()
        for cid, merged_into, deleted_at in found:
            state[cid] = (merged_into, deleted_at is not None)
        pending = {m for m, _ in (state[c] for c in pending if c in state) if m} - set(state)
    result: dict[int, Resolution] = {}
    for monica_id in wanted.values():
        local = local_of.get(monica_id)
        for _hop in range(_MAX_MERGE_HOPS):
            if local is None or local not in state:
                result[monica_id] = Resolution(None, "contact_not_found")
                break
            merged_into, deleted = state[local]
            if merged_into is not None:
                local = merged_into
                continue
            result[monica_id] = (
                Resolution(None, "contact_deleted") if deleted else Resolution(local, None)
            )
            break
        else:
            result[monica_id] = Resolution(None, "contact_not_found")
    return result


# --- photos and documents -----------------------------------------------------------------------


async def recorded(
    session: AsyncSession,
    *,
    account_id: int,
    source: str,
    entity_type: str,
    source_ids: Iterable[str],
) -> dict[str, int]:
    """Source ids already mapped to a live photo/document row (a mapping to a gone row is none)."""
    ids = list(set(source_ids))
    if not ids:
        return {}
    table = Photo if entity_type == "photo" else Document
    rows = (
        await session.execute(
            select(ImportRecord.source_entity_id, table.id)
            .join(
                table,
                (table.id == ImportRecord.local_entity_id)
                & (table.account_id == ImportRecord.account_id),
            )
            .where(
                ImportRecord.account_id == account_id,
                ImportRecord.source == source,
                ImportRecord.source_entity_type == entity_type,
                ImportRecord.local_entity_type == entity_type,
                ImportRecord.source_entity_id.in_(ids),
            )
        )
    ).all()
    return {source_id: int(local_id) for source_id, local_id in rows}


async def photo_hashes(
    session: AsyncSession, account_id: int, pairs: Iterable[tuple[int, str]]
) -> set[tuple[int, str]]:
    """Which (contact, sha256) pairs already have a photo."""
    wanted = list(set(pairs))
    if not wanted:
        return set()
    rows = await session.execute(
        select(Photo.contact_id, Photo.content_hash).where(
            Photo.account_id == account_id,
            tuple_(Photo.contact_id, Photo.content_hash).in_(wanted),
        )
    )
    return {(int(c), str(h)) for c, h in rows.all()}


async def document_hashes(
    session: AsyncSession, account_id: int, pairs: Iterable[tuple[int, str]]
) -> set[tuple[int, str]]:
    wanted = list(set(pairs))
    if not wanted:
        return set()
    rows = await session.execute(
        select(Document.contact_id, Document.content_hash).where(
            Document.account_id == account_id,
            tuple_(Document.contact_id, Document.content_hash).in_(wanted),
        )
    )
    return {(int(c), str(h)) for c, h in rows.all()}


async def insert_media(
    session: AsyncSession, kind: str, rows: list[dict[str, Any]]
) -> dict[str, int]:
    """Insert photo or document rows in one statement; returns storage key → id of the rows
    written. A photo whose `(contact_id, content_hash)` exists is skipped (ON CONFLICT)."""
    if not rows:
        return {}
    table = Photo if kind == "photo" else Document
    result = await session.execute(
        insert(table).values(rows).on_conflict_do_nothing().returning(table.storage_key, table.id)
    )
    return {str(key): int(local_id) for key, local_id in result.all()}


async def upsert_records(
    session: AsyncSession,
    *,
    account_id: int,
    import_id: int,
    source: str,
    entity_type: str,
    local_ids: dict[str, int],
) -> None:
    """Map source ids → local ids in one statement (data-model §3.5: the conflict branch
    overwrites the local id and the import)."""
    if not local_ids:
        return
    stmt = insert(ImportRecord).values(
        [
            {
                "account_id": account_id,
                "import_id": import_id,
                "source": source,
                "source_entity_type": entity_type,
                "source_entity_id": source_id,
                "local_entity_type": entity_type,
                "local_entity_id": local_id,
            }
            for source_id, local_id in local_ids.items()
        ]
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["account_id", "source", "source_entity_type", "source_entity_id"],
            set_={
                "local_entity_type": stmt.excluded.local_entity_type,
                "local_entity_id": stmt.excluded.local_entity_id,
                "import_id": stmt.excluded.import_id,
                "updated_at": func.now(),
            },
        )
    )


async def upsert_record(
    session: AsyncSession,
    *,
    account_id: int,
    import_id: int,
    source: str,
    entity_type: str,
    source_id: str,
    local_id: int,
) -> None:
    await upsert_records(
        session,
        account_id=account_id,
        import_id=import_id,
        source=source,
        entity_type=entity_type,
        local_ids={source_id: local_id},
    )


async def set_avatars_if_unset(
    session: AsyncSession, *, account_id: int, avatars: dict[int, int]
) -> None:
    """Make each photo its contact's avatar only where the contact has none (importer.md §9)."""
    if not avatars:
        return
    # text(): an UPDATE ... FROM unnest() pairs each contact with its photo in one statement.
    await session.execute(
        text(
            "UPDATE contacts AS c SET avatar_photo_id = v.photo_id, updated_at = now() "
            "FROM (SELECT unnest(CAST(:contacts AS bigint[])) AS contact_id, "
            "unnest(CAST(:photos AS bigint[])) AS photo_id) AS v "
            "WHERE c.account_id = :account_id AND c.id = v.contact_id "
            "AND c.avatar_photo_id IS NULL"
        ),
        {
            "account_id": account_id,
            "contacts": list(avatars),
            "photos": list(avatars.values()),
        },
    )


async def keys_in_use(session: AsyncSession, keys: Iterable[str]) -> set[str]:
    """Which storage keys a photo or document row still names (never delete those files)."""
    wanted = list(set(keys))
    if not wanted:
        return set()
    photos = await session.scalars(select(Photo.storage_key).where(Photo.storage_key.in_(wanted)))
    documents = await session.scalars(
        select(Document.storage_key).where(Document.storage_key.in_(wanted))
    )
    return set(photos.all()) | set(documents.all())
