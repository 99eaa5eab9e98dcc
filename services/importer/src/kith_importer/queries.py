"""SQL over the tables the importer owns or writes: import_records, import_staging, contacts.

`record` is the one mapping upsert: its conflict branch overwrites `local_entity_type`,
`local_entity_id`, `import_id` and `updated_at` (data-model §3.5; the original kept the old
local id, which made a purged contact be re-created on every import).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.lookups import contacts_by_id
from kith_common.db.models import (
    Address,
    Contact,
    ContactField,
    ImportRecord,
    ImportStaging,
    Note,
    Relationship,
)
from kith_importer.parsing import jsonb_safe

__all__ = [
    "drop_staging",
    "live_contact",
    "mapped",
    "mapped_many",
    "record",
    "resolve_contact",
    "stage",
    "staged",
    "staged_keys",
]

_MAX_MERGE_HOPS = 20


async def record(
    session: AsyncSession,
    *,
    account_id: int,
    import_id: int,
    source: str,
    entity_type: str,
    source_id: str,
    local_type: str,
    local_id: int,
) -> None:
    stmt = insert(ImportRecord).values(
        account_id=account_id,
        import_id=import_id,
        source=source,
        source_entity_type=entity_type,
        source_entity_id=source_id,
        local_entity_type=local_type,
        local_entity_id=local_id,
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


_RECORD_MANY = text(
    """
INSERT INTO import_records (account_id, import_id, source, source_entity_type,
                            source_entity_id, local_entity_type, local_entity_id)
SELECT :account_id, :import_id, :source, r.etype, r.sid, r.ltype, r.lid
FROM jsonb_to_recordset(:rows) AS r(etype text, sid text, ltype text, lid bigint)
ON CONFLICT (account_id, source, source_entity_type, source_entity_id) DO UPDATE SET
    local_entity_type = excluded.local_entity_type,
    local_entity_id = excluded.local_entity_id,
    import_id = excluded.import_id,
    updated_at = now()
"""
).bindparams(bindparam("rows", type_=JSONB))


async def record_many(
    session: AsyncSession,
    *,
    account_id: int,
    import_id: int,
    source: str,
    rows: list[tuple[str, str, str, int]],
) -> None:
    """`record` for many (entity type, source id, local type, local id) rows, one statement.

    The rows travel as one jsonb array, so the statement's text is the same for any number of
    rows (compiled and prepared once, not per row count).
    """
    if not rows:
        return
    unique = {(r[0], r[1]): r for r in rows}  # one row per conflict key per statement
    await session.execute(
        _RECORD_MANY,
        {
            "account_id": account_id,
            "import_id": import_id,
            "source": source,
            "rows": [
                {"etype": etype, "sid": sid, "ltype": ltype, "lid": lid}
                for etype, sid, ltype, lid in unique.values()
            ],
        },
    )


async def field_keys(
    session: AsyncSession, account_id: int, contact_ids: list[int]
) -> dict[int, set[tuple[int, str]]]:
    """(type id, lower-cased value) of the contacts' existing fields."""
    found: dict[int, set[tuple[int, str]]] = {c: set() for c in contact_ids}
    rows = await session.execute(
        select(
            ContactField.contact_id, ContactField.contact_field_type_id, ContactField.value
        ).where(ContactField.account_id == account_id, ContactField.contact_id.in_(contact_ids))
    )
    for contact_id, type_id, value in rows:
        found[contact_id].add((type_id, value.lower()))
    return found


def _norm(value: str | None) -> str:
    return " ".join((value or "").split()).lower()


async def address_keys(
    session: AsyncSession, account_id: int, contact_ids: list[int]
) -> dict[int, set[tuple[str, str, str]]]:
    """(line1, city, country), case- and space-folded, of the contacts' existing addresses."""
    found: dict[int, set[tuple[str, str, str]]] = {c: set() for c in contact_ids}
    rows = await session.execute(
        select(Address.contact_id, Address.line1, Address.city, Address.country).where(
            Address.account_id == account_id, Address.contact_id.in_(contact_ids)
        )
    )
    for contact_id, line1, city, country in rows:
        found[contact_id].add((_norm(line1), _norm(city), _norm(country)))
    return found


async def note_bodies(
    session: AsyncSession, account_id: int, contact_ids: list[int]
) -> dict[tuple[int, str], int]:
    """(contact id, trimmed body) → note id of the contacts' existing notes."""
    if not contact_ids:
        return {}
    rows = await session.execute(
        select(Note.contact_id, func.btrim(Note.body), Note.id).where(
            Note.account_id == account_id, Note.contact_id.in_(contact_ids)
        )
    )
    return {(contact_id, body): note_id for contact_id, body, note_id in rows}


_STAGE_MANY = text(
    """
INSERT INTO import_staging (account_id, import_id, kind, key, payload)
SELECT :account_id, :import_id, :kind, s.key, s.payload
FROM jsonb_to_recordset(:rows) AS s(key text, payload jsonb)
ON CONFLICT (import_id, kind, key) DO UPDATE SET payload = excluded.payload, updated_at = now()
"""
).bindparams(bindparam("rows", type_=JSONB))


async def stage_many(
    session: AsyncSession,
    *,
    account_id: int,
    import_id: int,
    kind: str,
    payloads: dict[str, dict[str, Any]],
) -> None:
    """`stage` for many keys of one kind, one statement of fixed text (see `record_many`)."""
    if not payloads:
        return
    await session.execute(
        _STAGE_MANY,
        {
            "account_id": account_id,
            "import_id": import_id,
            "kind": kind,
            "rows": [{"key": k, "payload": _clean(v)} for k, v in payloads.items()],
        },
    )


async def mapped(
    session: AsyncSession, account_id: int, source: str, entity_type: str, source_id: str
) -> int | None:
    return await session.scalar(
        select(ImportRecord.local_entity_id).where(
            ImportRecord.account_id == account_id,
            ImportRecord.source == source,
            ImportRecord.source_entity_type == entity_type,
            ImportRecord.source_entity_id == source_id,
        )
    )


async def mapped_many(
    session: AsyncSession,
    account_id: int,
    source: str,
    entity_type: str,
    source_ids: Iterable[str],
) -> dict[str, int]:
    ids = list(source_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(ImportRecord.source_entity_id, ImportRecord.local_entity_id).where(
            ImportRecord.account_id == account_id,
            ImportRecord.source == source,
            ImportRecord.source_entity_type == entity_type,
            ImportRecord.source_entity_id.in_(ids),
        )
    )
    return {sid: lid for sid, lid in rows}


async def live_contact(session: AsyncSession, account_id: int, contact_id: int) -> Contact | None:
    return await session.scalar(
        select(Contact).where(Contact.account_id == account_id, Contact.id == contact_id)
    )


async def resolve_contact(
    session: AsyncSession, account_id: int, contact_id: int
) -> tuple[Contact | None, bool]:
    """Follow `merged_into_id` to the survivor; returns (contact or None, followed a merge)."""
    followed = False
    current = await live_contact(session, account_id, contact_id)
    for _ in range(_MAX_MERGE_HOPS):
        if current is None or current.merged_into_id is None:
            return current, followed
        followed = True
        current = await live_contact(session, account_id, current.merged_into_id)
    return current, followed


async def stage(
    session: AsyncSession,
    *,
    account_id: int,
    import_id: int,
    kind: str,
    key: str,
    payload: dict[str, Any],
) -> None:
    stmt = insert(ImportStaging).values(
        account_id=account_id, import_id=import_id, kind=kind, key=key, payload=_clean(payload)
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["import_id", "kind", "key"],
            set_={"payload": stmt.excluded.payload, "updated_at": func.now()},
        )
    )


_clean = jsonb_safe


async def staged(session: AsyncSession, import_id: int, kind: str) -> dict[str, dict[str, Any]]:
    rows = await session.execute(
        select(ImportStaging.key, ImportStaging.payload).where(
            ImportStaging.import_id == import_id, ImportStaging.kind == kind
        )
    )
    return {key: payload for key, payload in rows}


async def staged_keys(
    session: AsyncSession, import_id: int, kind: str, keys: Iterable[str] | None = None
) -> set[str]:
    stmt = select(ImportStaging.key).where(
        ImportStaging.import_id == import_id, ImportStaging.kind == kind
    )
    if keys is not None:
        wanted = list(keys)
        if not wanted:
            return set()
        stmt = stmt.where(ImportStaging.key.in_(wanted))
    return set((await session.scalars(stmt)).all())


async def unstage(session: AsyncSession, import_id: int, kind: str, key: str) -> None:
    await session.execute(
        delete(ImportStaging).where(
            and_(
                ImportStaging.import_id == import_id,
                ImportStaging.kind == kind,
                ImportStaging.key == key,
            )
        )
    )


async def unstage_many(session: AsyncSession, import_id: int, kind: str, keys: list[str]) -> None:
    if not keys:
        return
    await session.execute(
        delete(ImportStaging).where(
            ImportStaging.import_id == import_id,
            ImportStaging.kind == kind,
            ImportStaging.key.in_(keys),
        )
    )


async def drop_staging(
    session: AsyncSession, import_id: int, *, keep: tuple[str, ...] = ()
) -> None:
    stmt = delete(ImportStaging).where(ImportStaging.import_id == import_id)
    if keep:
        stmt = stmt.where(ImportStaging.kind.not_in(keep))
    await session.execute(stmt)


async def set_first_met_through(
    session: AsyncSession, account_id: int, contact_id: int, through_id: int
) -> None:
    await session.execute(
        update(Contact)
        .where(Contact.account_id == account_id, Contact.id == contact_id)
        .values(first_met_through_id=through_id)
    )


_SET_MET_MANY = text(
    """
UPDATE contacts SET first_met_through_id = m.through_id
FROM jsonb_to_recordset(:rows) AS m(contact_id bigint, through_id bigint)
WHERE contacts.account_id = :account_id AND contacts.id = m.contact_id
"""
).bindparams(bindparam("rows", type_=JSONB))


async def set_first_met_through_many(
    session: AsyncSession, account_id: int, links: dict[int, int]
) -> None:
    """`set_first_met_through` for many contacts (contact id → through id), one statement."""
    if links:
        await session.execute(
            _SET_MET_MANY,
            {
                "account_id": account_id,
                "rows": [{"contact_id": c, "through_id": t} for c, t in links.items()],
            },
        )


async def relationships_among(
    session: AsyncSession, account_id: int, wanted: list[tuple[int, int, int]]
) -> set[tuple[int, int, int]]:
    """Existing (contact, related contact, type) rows in either direction of `wanted`'s pairs."""
    contacts = sorted({c for a, b, _ in wanted for c in (a, b)})
    types = sorted({t for _, _, t in wanted})
    rows = await session.execute(
        select(
            Relationship.contact_id,
            Relationship.related_contact_id,
            Relationship.relationship_type_id,
        ).where(
            Relationship.account_id == account_id,
            Relationship.relationship_type_id.in_(types),
            Relationship.contact_id.in_(contacts),
            Relationship.related_contact_id.in_(contacts),
        )
    )
    return {(a, b, t) for a, b, t in rows}


__all__ += [
    "address_keys",
    "contacts_by_id",
    "field_keys",
    "note_bodies",
    "record_many",
    "relationships_among",
    "set_first_met_through",
    "set_first_met_through_many",
    "stage_many",
    "unstage",
    "unstage_many",
]
