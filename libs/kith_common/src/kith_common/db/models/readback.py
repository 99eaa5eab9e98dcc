"""The indexes behind reading records back newest first (issue #16, migration 0004).

Every record list of the API is a keyset page ordered `when DESC, id DESC`, where "when" is
the moment the record is about (`occurred_at`, a life event's day at 00:00 UTC) or its
creation. Each table gets one index for the account-wide list, and each table with a
contact column one for a contact's list and the contact's timeline, so a page is an index
range scan whatever the account's size. Declared here, beside each other, because they are
one decision; each still belongs to its table's owner.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, Index, cast, func, literal_column, text

from kith_common.db.models.activities import Activity
from kith_common.db.models.contacts import Call, Debt, Gift, LifeEvent, Pet, Relationship
from kith_common.db.models.conversations import Conversation
from kith_common.db.models.journal import JournalEntry
from kith_common.db.models.media import Document, Photo
from kith_common.db.models.notes import Note
from kith_common.db.models.reminders import Reminder
from kith_common.db.models.tasks import Task

__all__ = ["life_event_day"]


def life_event_day(column: Any) -> Any:
    """A `date` as 00:00 UTC; the literal zone keeps the expression immutable (indexable)."""
    return func.timezone(literal_column("'UTC'"), cast(column, DateTime()))


_WHEN: list[tuple[Any, Any, bool]] = [  # model, when, has a contact column
    (Note, Note.created_at, True),
    (Relationship, Relationship.created_at, False),
    (Activity, Activity.occurred_at, False),
    (Call, Call.occurred_at, True),
    (Pet, Pet.created_at, True),
    (Gift, Gift.created_at, True),
    (Debt, Debt.created_at, True),
    (Task, Task.created_at, True),
    (Reminder, Reminder.created_at, True),
    (Conversation, Conversation.created_at, True),
    (LifeEvent, life_event_day(LifeEvent.occurred_on), True),
    (JournalEntry, JournalEntry.occurred_at, False),
    (Photo, Photo.created_at, True),
    (Document, Document.created_at, True),
]

for _model, _when, _by_contact in _WHEN:
    _table = _model.__tablename__
    Index(f"ix_{_table}_account_recent", _model.account_id, _when.desc(), _model.id.desc())
    if _by_contact:
        Index(
            f"ix_{_table}_contact_recent",
            _model.account_id,
            _model.contact_id,
            _when.desc(),
            _model.id.desc(),
            # tasks.contact_id is nullable; only a contact's tasks are read by contact.
            postgresql_where=text("contact_id IS NOT NULL") if _model is Task else None,
        )
