"""What a contact's imported and edited data reads back as: one model per kind of record.

Each model is the row's own columns (never the ORM object) plus what a reader needs to show
it without a second call: attendees of an activity, messages of a conversation, the type and
both sides of a relationship, the content URL of a stored file.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from kith_gateway.schemas.common import Strict


class Record(BaseModel):
    """The columns every record has."""

    id: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ContactRef(BaseModel):
    """The other end of a link: enough to name it and link to it."""

    id: int
    display_name: str
    is_partial: bool = Field(description="A Monica partial contact, kept as a link target.")
    deleted_at: dt.datetime | None


class NoteOut(Record):
    contact_id: int
    body: str
    favorite: bool
    is_private: bool
    author_id: int | None


class RelationshipOut(Record):
    """(contact, related, type): "related is contact's `type_name`"; from the other side,
    "contact is related's `reverse_name`"."""

    contact_id: int
    related_contact_id: int
    relationship_type_id: int
    type_name: str
    reverse_name: str
    contact: ContactRef
    related_contact: ContactRef


class ActivityOut(Record):
    title: str
    description: str | None
    occurred_at: dt.datetime
    is_private: bool
    creator_id: int | None
    attendees: list[ContactRef]


class CallOut(Record):
    contact_id: int
    occurred_at: dt.datetime
    duration_minutes: int | None
    direction: str | None = Field(description="inbound, outbound or missed.")
    notes: str | None
    is_private: bool
    creator_id: int | None


class PetOut(Record):
    contact_id: int
    name: str
    species: str
    breed: str | None
    notes: str | None
    is_private: bool


class GiftOut(Record):
    contact_id: int
    name: str
    description: str | None
    occasion: str | None
    occurred_on: dt.date | None
    amount: Decimal | None
    currency: str | None
    direction: str = Field(description="given or received.")
    status: str = Field(description="idea, purchased, given or received.")
    url: str | None
    is_private: bool
    creator_id: int | None


class DebtOut(Record):
    contact_id: int
    title: str
    amount: Decimal
    currency: str | None
    direction: str = Field(description="owed_to_me or owed_by_me.")
    status: str = Field(description="active, settled or written_off.")
    due_on: dt.date | None
    settled_at: dt.datetime | None
    notes: str | None
    is_private: bool
    creator_id: int | None


class TaskOut(Record):
    contact_id: int | None
    title: str
    description: str | None
    due_on: dt.date | None
    priority: str
    status: str = Field(description="pending, in_progress, completed or cancelled.")
    completed_at: dt.datetime | None
    is_private: bool
    creator_id: int | None


class ReminderOut(Record):
    contact_id: int
    type: str = Field(description="birthday, stay_in_touch, one_time or recurring.")
    title: str | None
    frequency: str | None
    next_reminder_on: dt.date
    active: bool
    creator_id: int | None


class MessageOut(BaseModel):
    id: int
    body: str
    direction: str = Field(description="sent or received.")
    sent_at: dt.datetime


class ConversationOut(Record):
    contact_id: int
    subject: str | None
    platform: str
    status: str
    is_private: bool
    creator_id: int | None
    messages: list[MessageOut] = Field(description="Oldest first.")


class LifeEventOut(Record):
    contact_id: int
    life_event_type_id: int
    type_name: str
    category: str
    occurred_on: dt.date
    note: str | None
    is_private: bool
    creator_id: int | None


class JournalEntryOut(Record):
    author_id: int | None
    title: str | None
    content: str
    occurred_at: dt.datetime
    mood: str | None
    is_private: bool


class StoredFileOut(Record):
    """A photo or a document; its bytes are at `content_url`."""

    contact_id: int
    file_name: str | None
    content_type: str
    size_bytes: int
    content_hash: str | None = Field(description="SHA-256 of the bytes (hex): the ETag.")
    is_private: bool
    content_url: str


class NoteIn(Strict):
    contact_id: int = Field(ge=1, le=2**62)
    body: str = Field(min_length=1, max_length=100_000, pattern=r"\S")
    favorite: bool = False
    is_private: bool = False


class NotePatch(Strict):
    body: str | None = Field(default=None, min_length=1, max_length=100_000, pattern=r"\S")
    favorite: bool | None = None
    is_private: bool | None = None


class TaskPatch(Strict):
    """Mark a task done (`completed`) or open again (`pending`)."""

    status: Literal["pending", "in_progress", "completed", "cancelled"]


TimelineKind = Literal[
    "note", "call", "activity", "conversation", "life_event", "gift", "debt", "task", "reminder"
]


class TimelineEntry(BaseModel):
    """One thing in a contact's history; read it whole at `/v1/<kind>s/{id}`."""

    kind: TimelineKind
    id: int
    at: dt.datetime = Field(description="When it happened (its date at 00:00 UTC for a day).")
    summary: str | None = Field(description="A short line to show: title, subject or text.")


class ContactCounts(BaseModel):
    """How many of each kind the contact has (activities: those it attended)."""

    notes: int
    relationships: int
    activities: int
    calls: int
    pets: int
    gifts: int
    debts: int
    tasks: int
    reminders: int
    conversations: int
    life_events: int
    photos: int
    documents: int
