"""The record tables a contact's history lives in, read newest first in keyset pages.

One `Source` per table says how to read it: its "when" (the moment the record is about, or
its creation when it has none that is always set), and how it names a contact (a column, the
two ends of a relationship, an activity's attendees, or none for journal entries). Lists,
one-item reads, the timeline and the counts are all built from these, so every table is
paged, scoped to the account and filtered by contact the same way. Order: `when DESC, id
DESC`, backed by the 0004 indexes (`kith_common.db.models.readback`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from kith_common.db.models import (
    Activity,
    ActivityContact,
    Call,
    Contact,
    Conversation,
    Debt,
    Document,
    Gift,
    JournalEntry,
    LifeEvent,
    LifeEventType,
    Message,
    Note,
    Pet,
    Photo,
    Relationship,
    RelationshipType,
    Reminder,
    Task,
)
from kith_common.db.models.readback import life_event_day

ContactLink = Literal["column", "both_ends", "attendees", "none"]


@dataclass(frozen=True, slots=True)
class Source:
    model: Any
    when: ColumnElement[dt.datetime] | InstrumentedAttribute[dt.datetime]
    contact: ContactLink = "column"
    # The timeline's one-line summary of a row (None: the kind is not on the timeline).
    summary: ColumnElement[str] | None = None


def _clip(column: Any) -> ColumnElement[str]:
    return func.left(column, 200)


NOTES = Source(Note, Note.created_at, summary=_clip(Note.body))
RELATIONSHIPS = Source(Relationship, Relationship.created_at, "both_ends")
ACTIVITIES = Source(Activity, Activity.occurred_at, "attendees", _clip(Activity.title))
CALLS = Source(Call, Call.occurred_at, summary=_clip(func.coalesce(Call.notes, Call.direction)))
PETS = Source(Pet, Pet.created_at)
GIFTS = Source(Gift, Gift.created_at, summary=_clip(Gift.name))
DEBTS = Source(Debt, Debt.created_at, summary=_clip(Debt.title))
TASKS = Source(Task, Task.created_at, summary=_clip(Task.title))
REMINDERS = Source(
    Reminder, Reminder.created_at, summary=_clip(func.coalesce(Reminder.title, Reminder.type))
)
CONVERSATIONS = Source(
    Conversation,
    Conversation.created_at,
    summary=_clip(func.coalesce(Conversation.subject, Conversation.platform)),
)
LIFE_EVENTS = Source(
    LifeEvent,
    life_event_day(LifeEvent.occurred_on),
    summary=_clip(func.coalesce(LifeEvent.note, "")),
)
JOURNAL_ENTRIES = Source(JournalEntry, JournalEntry.occurred_at, "none")
PHOTOS = Source(Photo, Photo.created_at)
DOCUMENTS = Source(Document, Document.created_at)

# The timeline's kinds (issue #16), in the tie-break order of equal moments.
TIMELINE: dict[str, Source] = {
    "activity": ACTIVITIES,
    "call": CALLS,
    "conversation": CONVERSATIONS,
    "debt": DEBTS,
    "gift": GIFTS,
    "life_event": LIFE_EVENTS,
    "note": NOTES,
    "reminder": REMINDERS,
    "task": TASKS,
}


def _of_contact(source: Source, account_id: Any, contact_id: Any) -> ColumnElement[bool]:
    model = source.model
    if source.contact == "both_ends":
        return or_(model.contact_id == contact_id, model.related_contact_id == contact_id)
    if source.contact == "attendees":
        return exists().where(
            ActivityContact.account_id == account_id,
            ActivityContact.activity_id == model.id,
            ActivityContact.contact_id == contact_id,
        )
    return model.contact_id == contact_id  # type: ignore[no-any-return]


def _scoped(source: Source, account_id: int, contact_id: int | None) -> Select[Any]:
    query = select(source.model).where(source.model.account_id == account_id)
    if contact_id is not None:
        query = query.where(_of_contact(source, account_id, contact_id))
    return query


async def page(
    session: AsyncSession,
    source: Source,
    account_id: int,
    *,
    contact_id: int | None,
    after: tuple[dt.datetime, int] | None,
    limit: int,
) -> list[tuple[Any, dt.datetime]]:
    """Up to `limit + 1` rows (the extra one says there is more), each with its "when"."""
    model = source.model
    query = _scoped(source, account_id, contact_id).add_columns(source.when)
    if after is not None:
        query = query.where(tuple_(source.when, model.id) < tuple_(after[0], after[1]))
    query = query.order_by(source.when.desc(), model.id.desc()).limit(limit + 1)
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def one(session: AsyncSession, source: Source, account_id: int, item_id: int) -> Any:
    return await session.scalar(
        select(source.model).where(
            source.model.account_id == account_id, source.model.id == item_id
        )
    )


async def contact_exists(session: AsyncSession, account_id: int, contact_id: int) -> bool:
    found = await session.scalar(
        select(Contact.id).where(Contact.account_id == account_id, Contact.id == contact_id)
    )
    return found is not None


# The two statements below are built once with bound parameters: building nine subqueries
# costs more Python time than PostgreSQL spends answering them (bench_readback.py).
_ACCOUNT = bindparam("account_id", type_=BigInteger)
_CONTACT = bindparam("contact_id", type_=BigInteger)


@functools.cache
def _counts_statement(sources: tuple[tuple[str, Source], ...]) -> Select[Any]:
    return select(
        *(
            select(func.count())
            .select_from(source.model)
            .where(source.model.account_id == _ACCOUNT, _of_contact(source, _ACCOUNT, _CONTACT))
            .scalar_subquery()
            .label(name)
            for name, source in sources
        )
    )


async def count_of_contact(
    session: AsyncSession, sources: dict[str, Source], account_id: int, contact_id: int
) -> dict[str, int]:
    """One round trip: a scalar count per source."""
    statement = _counts_statement(tuple(sources.items()))
    row = (
        await session.execute(statement, {"account_id": account_id, "contact_id": contact_id})
    ).one()
    return {name: int(value) for name, value in row._mapping.items()}


@functools.cache
def _timeline_statement(after_kind: str | None, backward: bool = False) -> Select[Any]:
    """The merge of every kind's first page; `after_kind` decides how each kind compares
    with the cursor (rows of a smaller kind may share its moment, of a larger one not).

    `backward`: the rows just *before* the cursor in (at, kind, id) DESC order, nearest first
    (each table's index read the other way), for a page back.
    """
    at = bindparam("at", type_=DateTime(timezone=True))
    after_id = bindparam("after_id", type_=BigInteger)
    limit = bindparam("limit", type_=Integer)
    parts = []
    for kind, source in TIMELINE.items():
        model = source.model
        assert source.summary is not None
        query = select(
            literal(kind).label("kind"),
            model.id.label("id"),
            source.when.label("at"),
            source.summary.label("summary"),
        ).where(model.account_id == _ACCOUNT, _of_contact(source, _ACCOUNT, _CONTACT))
        if after_kind is not None and backward:
            if kind > after_kind:
                query = query.where(source.when >= at)
            elif kind < after_kind:
                query = query.where(source.when > at)
            else:
                query = query.where(tuple_(source.when, model.id) > tuple_(at, after_id))
        elif after_kind is not None:
            if kind < after_kind:
                query = query.where(source.when <= at)
            elif kind > after_kind:
                query = query.where(source.when < at)
            else:
                query = query.where(tuple_(source.when, model.id) < tuple_(at, after_id))
        if backward:
            query = query.order_by(source.when, model.id)
        else:
            query = query.order_by(source.when.desc(), model.id.desc())
        parts.append(query.limit(limit).subquery())
    rows = union_all(*(select(part) for part in parts)).subquery()
    if backward:
        return select(rows).order_by(rows.c.at, rows.c.kind, rows.c.id).limit(limit)
    return (
        select(rows).order_by(rows.c.at.desc(), rows.c.kind.desc(), rows.c.id.desc()).limit(limit)
    )


async def timeline(
    session: AsyncSession,
    account_id: int,
    contact_id: int,
    *,
    after: tuple[dt.datetime, str, int] | None,
    limit: int,
    before: tuple[dt.datetime, str, int] | None = None,
) -> Sequence[Any]:
    """Up to `limit + 1` rows (kind, id, at, summary), newest first, ties by kind then id
    (both descending); with `before`, the `limit + 1` rows just before it, nearest first.

    Each table contributes its own first `limit + 1` rows after the cursor (an index range
    scan per table), so the merge sorts at most nine short lists.
    """
    values: dict[str, Any] = {"account_id": account_id, "contact_id": contact_id}
    values["limit"] = limit + 1
    key = before if before is not None else after
    if key is not None:
        values.update(at=key[0], after_id=key[2])
    statement = _timeline_statement(key[1] if key is not None else None, before is not None)
    rows: Sequence[Any] = (await session.execute(statement, values)).all()
    return rows


async def attendees_of(
    session: AsyncSession, account_id: int, activity_ids: list[int]
) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {i: [] for i in activity_ids}
    if not activity_ids:
        return out
    rows = await session.execute(
        select(ActivityContact.activity_id, ActivityContact.contact_id)
        .where(
            ActivityContact.account_id == account_id,
            ActivityContact.activity_id.in_(activity_ids),
        )
        .order_by(ActivityContact.activity_id, ActivityContact.contact_id)
    )
    for activity_id, contact_id in rows.all():
        out[activity_id].append(contact_id)
    return out


async def messages_of(
    session: AsyncSession, account_id: int, conversation_ids: list[int]
) -> dict[int, list[Message]]:
    out: dict[int, list[Message]] = {i: [] for i in conversation_ids}
    if not conversation_ids:
        return out
    rows = await session.scalars(
        select(Message)
        .where(Message.account_id == account_id, Message.conversation_id.in_(conversation_ids))
        .order_by(Message.conversation_id, Message.sent_at, Message.id)
    )
    for message in rows:
        out[message.conversation_id].append(message)
    return out


async def relationship_types(
    session: AsyncSession, type_ids: set[int]
) -> dict[int, RelationshipType]:
    if not type_ids:
        return {}
    rows = await session.scalars(select(RelationshipType).where(RelationshipType.id.in_(type_ids)))
    return {row.id: row for row in rows}


async def life_event_types(session: AsyncSession, type_ids: set[int]) -> dict[int, LifeEventType]:
    if not type_ids:
        return {}
    rows = await session.scalars(select(LifeEventType).where(LifeEventType.id.in_(type_ids)))
    return {row.id: row for row in rows}
