"""Every Kith table, one module per owning domain (data-model.md §3).

Importing this package registers every table on `Base.metadata` (Alembic and the
table-info test rely on that). Closed-set constants (statuses, kinds) stay in their modules.
"""

from kith_common.db.models import readback as _readback  # noqa: F401  # registers its indexes
from kith_common.db.models.activities import Activity, ActivityContact
from kith_common.db.models.audit import AuditLog
from kith_common.db.models.bus import Inbox, Outbox, RateLimit
from kith_common.db.models.contacts import (
    Address,
    Call,
    Contact,
    ContactField,
    ContactTag,
    Debt,
    DebtPayment,
    Gift,
    LifeEvent,
    Pet,
    Relationship,
    Tag,
)
from kith_common.db.models.conversations import Conversation, Message
from kith_common.db.models.dedup import (
    ContactMerge,
    DedupDirtyContact,
    DedupKeyState,
    DuplicateCandidate,
)
from kith_common.db.models.imports import Import, ImportConnectionCheck, ImportRecord, ImportStaging
from kith_common.db.models.journal import JournalEntry
from kith_common.db.models.media import Document, Photo
from kith_common.db.models.notes import Note
from kith_common.db.models.presence import ServiceInstance
from kith_common.db.models.reference import (
    ContactFieldType,
    Gender,
    LifeEventType,
    RelationshipType,
)
from kith_common.db.models.reminders import Reminder, ReminderRule
from kith_common.db.models.resets import AccountReset, AccountResetDomain
from kith_common.db.models.tasks import Task
from kith_common.db.models.tenancy import (
    Account,
    AccountInvitation,
    ApiToken,
    ConsoleSession,
    OperatorToken,
    User,
)

__all__ = [
    "Account",
    "AccountInvitation",
    "AccountReset",
    "AccountResetDomain",
    "Activity",
    "ActivityContact",
    "Address",
    "ApiToken",
    "AuditLog",
    "Call",
    "ConsoleSession",
    "Contact",
    "ContactField",
    "ContactFieldType",
    "ContactMerge",
    "ContactTag",
    "Conversation",
    "Debt",
    "DebtPayment",
    "DedupDirtyContact",
    "DedupKeyState",
    "Document",
    "DuplicateCandidate",
    "Gender",
    "Gift",
    "Import",
    "ImportConnectionCheck",
    "ImportRecord",
    "ImportStaging",
    "Inbox",
    "JournalEntry",
    "LifeEvent",
    "LifeEventType",
    "Message",
    "Note",
    "OperatorToken",
    "Outbox",
    "Pet",
    "Photo",
    "RateLimit",
    "Relationship",
    "RelationshipType",
    "Reminder",
    "ReminderRule",
    "ServiceInstance",
    "Tag",
    "Task",
    "User",
]
