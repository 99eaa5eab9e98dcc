"""Reading back every kind of record a contact has: account-wide keyset pages and one item.

`KINDS` is the whole catalogue: the URL segment, the table (`repositories.records.Source`),
the response model and how a page of rows becomes that model. Every kind is read the same
way: scoped to the caller's account, optionally filtered by contact (a contact of another
account is 404, like any foreign id), newest first with the id breaking ties, and a cursor
that names its list (a cursor of another list is 400).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.lookups import contacts_by_id
from kith_common.db.models import Contact
from kith_common.errors import NotFound
from kith_gateway import pagination
from kith_gateway.deps import Principal
from kith_gateway.problems import BadRequest
from kith_gateway.repositories import records as repo
from kith_gateway.schemas.common import Page, PageMeta
from kith_gateway.schemas.records import (
    ActivityOut,
    CallOut,
    ContactRef,
    ConversationOut,
    DebtOut,
    GiftOut,
    JournalEntryOut,
    LifeEventOut,
    MessageOut,
    NoteOut,
    PetOut,
    RelationshipOut,
    ReminderOut,
    StoredFileOut,
    TaskOut,
)

INT64_MAX = 2**63 - 1
Shaper = Callable[[AsyncSession, int, Sequence[Any]], Awaitable[list[Any]]]


def columns(row: Any) -> dict[str, Any]:
    """A row's own columns as a dict (never the ORM object in a response)."""
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def contact_ref(contact: Contact) -> ContactRef:
    return ContactRef(
        id=contact.id,
        display_name=contact.display_name,
        is_partial=contact.is_partial,
        deleted_at=contact.deleted_at,
    )


def _plain(out: type[BaseModel]) -> Shaper:
    async def shape(_: AsyncSession, __: int, rows: Sequence[Any]) -> list[Any]:
        return [out.model_validate(columns(row)) for row in rows]

    return shape


def _stored_file(path: str) -> Shaper:
    async def shape(_: AsyncSession, __: int, rows: Sequence[Any]) -> list[Any]:
        return [
            StoredFileOut.model_validate(
                {**columns(row), "content_url": f"/v1/{path}/{row.id}/content"}
            )
            for row in rows
        ]

    return shape


async def _relationships(session: AsyncSession, account_id: int, rows: Sequence[Any]) -> list[Any]:
    people = await contacts_by_id(
        session, account_id, {r.contact_id for r in rows} | {r.related_contact_id for r in rows}
    )
    types = await repo.relationship_types(session, {r.relationship_type_id for r in rows})
    return [
        RelationshipOut.model_validate(
            {
                **columns(row),
                "type_name": types[row.relationship_type_id].name,
                "reverse_name": types[row.relationship_type_id].reverse_name,
                "contact": contact_ref(people[row.contact_id]),
                "related_contact": contact_ref(people[row.related_contact_id]),
            }
        )
        for row in rows
    ]


async def _activities(session: AsyncSession, account_id: int, rows: Sequence[Any]) -> list[Any]:
    attendees = await repo.attendees_of(session, account_id, [r.id for r in rows])
    people = await contacts_by_id(
        session, account_id, {c for ids in attendees.values() for c in ids}
    )
    return [
        ActivityOut.model_validate(
            {
                **columns(row),
                "attendees": [contact_ref(people[c]) for c in attendees[row.id] if c in people],
            }
        )
        for row in rows
    ]


async def _conversations(session: AsyncSession, account_id: int, rows: Sequence[Any]) -> list[Any]:
    messages = await repo.messages_of(session, account_id, [r.id for r in rows])
    return [
        ConversationOut.model_validate(
            {
                **columns(row),
                "messages": [MessageOut.model_validate(columns(m)) for m in messages[row.id]],
            }
        )
        for row in rows
    ]


async def _life_events(session: AsyncSession, account_id: int, rows: Sequence[Any]) -> list[Any]:
    del account_id  # types are global or the account's own; the row already names one
    types = await repo.life_event_types(session, {r.life_event_type_id for r in rows})
    return [
        LifeEventOut.model_validate(
            {
                **columns(row),
                "type_name": types[row.life_event_type_id].name,
                "category": types[row.life_event_type_id].category,
            }
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of record as the API serves it."""

    path: str
    singular: str
    source: repo.Source
    out: type[BaseModel]
    page: type[BaseModel]
    shape: Shaper

    @property
    def by_contact(self) -> bool:
        return self.source.contact != "none"


def _kind(
    path: str,
    singular: str,
    source: repo.Source,
    out: type[BaseModel],
    page: type[BaseModel],
    shape: Shaper | None = None,
) -> Kind:
    return Kind(path, singular, source, out, page, shape or _plain(out))


KINDS: tuple[Kind, ...] = (
    _kind("notes", "note", repo.NOTES, NoteOut, Page[NoteOut]),
    _kind(
        "relationships",
        "relationship",
        repo.RELATIONSHIPS,
        RelationshipOut,
        Page[RelationshipOut],
        _relationships,
    ),
    _kind("activities", "activity", repo.ACTIVITIES, ActivityOut, Page[ActivityOut], _activities),
    _kind("calls", "call", repo.CALLS, CallOut, Page[CallOut]),
    _kind("pets", "pet", repo.PETS, PetOut, Page[PetOut]),
    _kind("gifts", "gift", repo.GIFTS, GiftOut, Page[GiftOut]),
    _kind("debts", "debt", repo.DEBTS, DebtOut, Page[DebtOut]),
    _kind("tasks", "task", repo.TASKS, TaskOut, Page[TaskOut]),
    _kind("reminders", "reminder", repo.REMINDERS, ReminderOut, Page[ReminderOut]),
    _kind(
        "conversations",
        "conversation",
        repo.CONVERSATIONS,
        ConversationOut,
        Page[ConversationOut],
        _conversations,
    ),
    _kind(
        "life-events",
        "life event",
        repo.LIFE_EVENTS,
        LifeEventOut,
        Page[LifeEventOut],
        _life_events,
    ),
    _kind(
        "journal-entries",
        "journal entry",
        repo.JOURNAL_ENTRIES,
        JournalEntryOut,
        Page[JournalEntryOut],
    ),
    _kind(
        "photos", "photo", repo.PHOTOS, StoredFileOut, Page[StoredFileOut], _stored_file("photos")
    ),
    _kind(
        "documents",
        "document",
        repo.DOCUMENTS,
        StoredFileOut,
        Page[StoredFileOut],
        _stored_file("documents"),
    ),
)
BY_PATH = {kind.path: kind for kind in KINDS}


def not_found(what: str) -> NotFound:
    return NotFound(f"no such {what}", code=f"{what.replace(' ', '-')}-not-found")


async def check_contact(session: AsyncSession, account_id: int, contact_id: int) -> None:
    """404 for a contact that is not the account's (or could not be an id at all)."""
    if contact_id > INT64_MAX or not await repo.contact_exists(session, account_id, contact_id):
        raise not_found("contact")


def parse_moment(value: str) -> dt.datetime:
    """A cursor's moment: an ISO timestamp with its offset, else 400."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as err:
        raise BadRequest("the cursor is malformed", code="invalid-cursor") from err
    if moment.tzinfo is None:
        raise BadRequest("the cursor is malformed", code="invalid-cursor")
    return moment


def cursor_id(value: int) -> int:
    if not 1 <= value <= INT64_MAX:
        raise BadRequest("the cursor is malformed", code="invalid-cursor")
    return value


async def list_records(
    session: AsyncSession,
    principal: Principal,
    kind: Kind,
    *,
    contact_id: int | None,
    cursor: str | None,
    limit: int,
) -> BaseModel:
    key = pagination.decode(cursor, kind.path, {"t": str, "i": int})
    after = (parse_moment(key["t"]), cursor_id(key["i"])) if key else None
    if contact_id is not None and contact_id > INT64_MAX:
        raise not_found("contact")
    rows = await repo.page(
        session,
        kind.source,
        principal.account_id,
        contact_id=contact_id,
        after=after,
        limit=limit,
    )
    if contact_id is not None and not rows:
        # Rows name a contact of the same account (FK), so only an empty page needs to ask
        # whether the contact is the caller's: one round trip in the common case.
        await check_contact(session, principal.account_id, contact_id)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last, when = rows[-1]
        next_cursor = pagination.encode(kind.path, t=when.isoformat(), i=last.id)
    data = await kind.shape(session, principal.account_id, [row for row, _ in rows])
    return kind.page(data=data, meta=PageMeta(next_cursor=next_cursor, has_more=more))


async def load(session: AsyncSession, account_id: int, kind: Kind, item_id: int) -> Any:
    """The row of `kind` with this id in the account, or 404 (also for ids past int64)."""
    row = None
    if item_id <= INT64_MAX:
        row = await repo.one(session, kind.source, account_id, item_id)
    if row is None:
        raise not_found(kind.singular)
    return row


async def get_record(session: AsyncSession, principal: Principal, kind: Kind, item_id: int) -> Any:
    row = await load(session, principal.account_id, kind, item_id)
    return (await kind.shape(session, principal.account_id, [row]))[0]
