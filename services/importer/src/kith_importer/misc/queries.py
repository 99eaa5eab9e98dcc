"""SQL of the misc-data phase: contact resolution, item upserts, checkpoint and summary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Final

from sqlalchemy import delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import (
    Account,
    Activity,
    ActivityContact,
    Call,
    Contact,
    Conversation,
    Debt,
    Gift,
    Import,
    ImportRecord,
    ImportStaging,
    JournalEntry,
    LifeEvent,
    LifeEventType,
    Message,
    Pet,
    Reminder,
    Task,
)
from kith_importer.queries import mapped_many, record_many

__all__ = [
    "STAGING_KIND",
    "STATS_KIND",
    "TABLES",
    "account_timezone",
    "birthdays",
    "drop_misc_staging",
    "imported_counts",
    "insert_birthday",
    "life_event_type",
    "link_attendees",
    "live_contacts",
    "misc_status",
    "monica_contacts",
    "read_checkpoint",
    "resolve_contacts",
    "staged_counts",
    "upsert_rows",
    "write_checkpoint",
    "write_summary",
]

STAGING_KIND: Final = "misc"
# Per-contact counts from Monica's `statistics`, staged by the crawl for the shortfall
# re-fetch (key: local contact id; payload: {option: count}).
STATS_KIND: Final = "misc_stats"
_MAX_HOPS: Final = 20

TABLES: Final[dict[str, Any]] = {
    "pet": Pet,
    "call": Call,
    "activity": Activity,
    "gift": Gift,
    "debt": Debt,
    "task": Task,
    "reminder": Reminder,
    "conversation": Conversation,
    "message": Message,
    "life_event": LifeEvent,
    "journal_entry": JournalEntry,
}


async def account_timezone(session: AsyncSession, account_id: int) -> str:
    return (await session.scalar(select(Account.timezone).where(Account.id == account_id))) or "UTC"


async def resolve_contacts(
    session: AsyncSession, account_id: int, source: str, monica_ids: Iterable[int]
) -> dict[int, int | str]:
    """Monica contact id → live local id (merges followed), or a skip reason."""
    wanted = sorted(set(monica_ids))
    records = await mapped_many(session, account_id, source, "contact", map(str, wanted))
    out: dict[int, int | str] = {m: "contact_not_found" for m in wanted}
    current = {m: records[str(m)] for m in wanted if str(m) in records}
    for _ in range(_MAX_HOPS):
        if not current:
            break
        rows = await session.execute(
            select(Contact.id, Contact.deleted_at, Contact.merged_into_id).where(
                Contact.account_id == account_id, Contact.id.in_(set(current.values()))
            )
        )
        found = {cid: (deleted, merged) for cid, deleted, merged in rows}
        following: dict[int, int] = {}
        for monica, local in current.items():
            if local not in found:
                out[monica] = "contact_not_found"  # the mapped row is gone
            elif (merged := found[local][1]) is not None:
                following[monica] = merged
            elif found[local][0] is not None:
                out[monica] = "contact_deleted"
            else:
                out[monica] = local
        current = following
    return out


async def upsert_rows(
    session: AsyncSession,
    *,
    account_id: int,
    import_id: int,
    source: str,
    entity: str,
    rows: dict[str, dict[str, Any]],
) -> dict[str, int]:
    """Insert or update rows keyed by Monica id; returns Monica id → local id.

    A mapping whose local row was deleted since counts as no mapping (data-model §3.5), so
    the item is created again.
    """
    if not rows:
        return {}
    table = TABLES[entity]
    known = await mapped_many(session, account_id, source, entity, rows.keys())
    local: dict[str, int] = {}
    if known:
        alive = set(
            await session.scalars(
                select(table.id).where(
                    table.account_id == account_id, table.id.in_(set(known.values()))
                )
            )
        )
        for key, lid in known.items():
            if lid in alive:
                await session.execute(
                    update(table).where(table.id == lid).values(**rows[key], updated_at=func.now())
                )
                local[key] = lid
    fresh = [key for key in rows if key not in local]
    if fresh:
        ids = await session.scalars(
            insert(table)
            .values([{"account_id": account_id, **rows[key]} for key in fresh])
            .returning(table.id)
        )
        local.update(zip(fresh, ids, strict=True))
    await record_many(
        session,
        account_id=account_id,
        import_id=import_id,
        source=source,
        rows=[(entity, key, table.__tablename__, lid) for key, lid in local.items()],
    )
    return local


async def link_attendees(
    session: AsyncSession, account_id: int, links: list[tuple[int, int]]
) -> None:
    """(activity id, contact id) pairs; existing links stay (a re-run adds nothing)."""
    if not links:
        return
    await session.execute(
        insert(ActivityContact)
        .values(
            [{"account_id": account_id, "activity_id": a, "contact_id": c} for a, c in set(links)]
        )
        .on_conflict_do_nothing()
    )


async def birthdays(
    session: AsyncSession, account_id: int, ids: Iterable[int]
) -> dict[int, dt.date]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(Contact.id, Contact.birthdate).where(
            Contact.account_id == account_id, Contact.id.in_(wanted), Contact.birthdate.is_not(None)
        )
    )
    return {cid: day for cid, day in rows if day is not None}


async def insert_birthday(
    session: AsyncSession, *, account_id: int, contact_id: int, values: dict[str, Any]
) -> int | None:
    """The contact's birthday reminder, unless it has one (ON CONFLICT DO NOTHING)."""
    stmt = (
        insert(Reminder)
        .values(account_id=account_id, contact_id=contact_id, **values)
        .on_conflict_do_nothing(
            index_elements=["contact_id"], index_where=Reminder.type == "birthday"
        )
        .returning(Reminder.id)
    )
    created = await session.scalar(stmt)
    if created is not None:
        return int(created)
    return await session.scalar(
        select(Reminder.id).where(Reminder.contact_id == contact_id, Reminder.type == "birthday")
    )


_CATEGORIES: Final = (
    (("work", "career", "job"), "career"),
    (("education", "school", "study"), "education"),
    (("family", "relationship", "love"), "family"),
    (("health",), "health"),
    (("home", "living", "house"), "home"),
    (("travel",), "travel"),
)


async def life_event_type(
    session: AsyncSession, account_id: int, name: str, category: str | None
) -> int:
    """A life event type by case-insensitive name (global or the account's), created once."""
    name = name[:255]
    existing = await session.scalar(
        select(LifeEventType.id)
        .where(
            or_(LifeEventType.account_id.is_(None), LifeEventType.account_id == account_id),
            func.lower(LifeEventType.name) == name.lower(),
        )
        .order_by(LifeEventType.account_id.nulls_first())
        .limit(1)
    )
    if existing is not None:
        return int(existing)
    lowered = (category or "").lower()
    kind = next((c for keys, c in _CATEGORIES if any(k in lowered for k in keys)), "other")
    await session.execute(
        insert(LifeEventType)
        .values(account_id=account_id, name=name, category=kind)
        .on_conflict_do_nothing()
    )
    created = await session.scalar(
        select(LifeEventType.id).where(
            LifeEventType.account_id == account_id, LifeEventType.name == name
        )
    )
    assert created is not None
    return int(created)


async def read_checkpoint(session: AsyncSession, import_id: int) -> dict[str, Any] | None:
    return await session.scalar(
        select(ImportStaging.payload).where(
            ImportStaging.import_id == import_id,
            ImportStaging.kind == STAGING_KIND,
            ImportStaging.key == "checkpoint",
        )
    )


async def write_checkpoint(
    session: AsyncSession, *, account_id: int, import_id: int, payload: dict[str, Any]
) -> None:
    stmt = insert(ImportStaging).values(
        account_id=account_id,
        import_id=import_id,
        kind=STAGING_KIND,
        key="checkpoint",
        payload=payload,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["import_id", "kind", "key"],
            set_={"payload": stmt.excluded.payload, "updated_at": func.now()},
        )
    )


async def write_summary(session: AsyncSession, import_id: int, misc: dict[str, Any]) -> None:
    """`summary.misc` only: the crawl's keys stay as they are; the heartbeat moves."""
    merged = Import.summary.op("||")(func.jsonb_build_object("misc", literal(misc, JSONB)))
    await session.execute(
        update(Import)
        .where(Import.id == import_id)
        .values(summary=merged, heartbeat_at=func.now(), updated_at=func.now())
    )


async def misc_status(session: AsyncSession, import_id: int) -> Import | None:
    """The import row, locked: the page transaction decides on its status (cancel, stop)."""
    return await session.scalar(select(Import).where(Import.id == import_id).with_for_update())


async def drop_misc_staging(session: AsyncSession, import_id: int, *, keep_media: bool) -> None:
    """The phase's checkpoint, staged counts and the crawl's reference map; never media's."""
    kinds = [STAGING_KIND, STATS_KIND, "refmap"]
    stmt = delete(ImportStaging).where(ImportStaging.import_id == import_id)
    if keep_media:
        stmt = stmt.where(ImportStaging.kind.in_(kinds))
    await session.execute(stmt)


# --- shortfall (importer.md §8): Monica's per-contact counts against what was imported -----


async def staged_counts(session: AsyncSession, import_id: int, option: str) -> dict[int, int]:
    """Local contact id → Monica's count of `option` items, as the crawl staged it."""
    rows = await session.execute(
        select(ImportStaging.key, ImportStaging.payload[option].astext).where(
            ImportStaging.import_id == import_id,
            ImportStaging.kind == STATS_KIND,
            ImportStaging.payload.has_key(option),
        )
    )
    return {int(key): int(n) for key, n in rows if key.isdigit() and n and n.isdigit()}


async def live_contacts(
    session: AsyncSession, account_id: int, ids: Iterable[int]
) -> dict[int, int | None]:
    """Local contact id → the live contact it is now (merges followed), or None if deleted."""
    out: dict[int, int | None] = {}
    current = {i: i for i in set(ids)}
    for _ in range(_MAX_HOPS):
        if not current:
            break
        rows = await session.execute(
            select(Contact.id, Contact.deleted_at, Contact.merged_into_id).where(
                Contact.account_id == account_id, Contact.id.in_(set(current.values()))
            )
        )
        found = {cid: (deleted, merged) for cid, deleted, merged in rows}
        following: dict[int, int] = {}
        for origin, now in current.items():
            deleted, merged = found.get(now, (True, None))
            if merged is not None:
                following[origin] = merged
            else:
                out[origin] = None if deleted else now
        current = following
    return out


async def imported_counts(
    session: AsyncSession, account_id: int, source: str, entity: str, contacts: Iterable[int]
) -> dict[int, int]:
    """Live contact id → items of `entity` imported from `source` that belong to it."""
    wanted = set(contacts)
    if not wanted:
        return {}
    table = TABLES[entity]
    owner = ActivityContact.contact_id if entity == "activity" else table.contact_id
    stmt = (
        select(owner, func.count(func.distinct(table.id)))
        .select_from(ImportRecord)
        .join(
            table,
            (table.id == ImportRecord.local_entity_id) & (table.account_id == account_id),
        )
    )
    if entity == "activity":
        stmt = stmt.join(ActivityContact, ActivityContact.activity_id == table.id)
    stmt = stmt.where(
        ImportRecord.account_id == account_id,
        ImportRecord.source == source,
        ImportRecord.source_entity_type == entity,
        owner.in_(wanted),
    ).group_by(owner)
    return {int(cid): int(n) for cid, n in await session.execute(stmt)}


async def monica_contacts(
    session: AsyncSession, account_id: int, source: str, locals_: Iterable[int]
) -> list[int]:
    """The Monica contact ids recorded for these local contacts."""
    wanted = set(locals_)
    if not wanted:
        return []
    keys = await session.scalars(
        select(ImportRecord.source_entity_id).where(
            ImportRecord.account_id == account_id,
            ImportRecord.source == source,
            ImportRecord.source_entity_type == "contact",
            ImportRecord.local_entity_id.in_(wanted),
        )
    )
    return sorted({int(k) for k in keys if k.isdigit()})
