"""Typed payloads (`data`) of every message on the bus, one module per domain.

One `Payload` subclass per subject (ARCHITECTURE §10): `<Verb><Noun>` for commands, `<Fact>` for
events (CONVENTIONS §5). They forbid unknown fields, so drift and stray secrets fail validation.
"""

from kith_common.events.payloads.contacts import (
    ContactCreated,
    ContactDeleted,
    ContactRestored,
    ContactsMerged,
    ContactsMergeFailed,
    ContactUpdated,
    MergeContacts,
)
from kith_common.events.payloads.dedup import CandidateDismissed, DedupScanCompleted, ScanDuplicates
from kith_common.events.payloads.dlq import DeadLetter
from kith_common.events.payloads.imports import (
    CancelImport,
    CheckConnection,
    CheckConnectionReply,
    ImportCancelled,
    ImportCompleted,
    ImportFailed,
    ImportMiscCompleted,
    ImportProgress,
    StartImport,
)
from kith_common.events.payloads.phones import PhonesRenormalized, RenormalizePhones
from kith_common.events.payloads.photos import PhotosSyncCompleted, SyncPhotos
from kith_common.events.payloads.resets import (
    AccountResetAccepted,
    AccountResetCompleted,
    AccountResetContactsStarted,
    AccountResetDomainDone,
    AccountResetDomainFailed,
    AccountResetDomainProgress,
    AccountResetFailed,
    AccountResetImportsStopped,
    AccountResetStarted,
    AccountResetStorageStarted,
    ResetAccount,
)

__all__ = [
    "AccountResetAccepted",
    "AccountResetCompleted",
    "AccountResetContactsStarted",
    "AccountResetDomainDone",
    "AccountResetDomainFailed",
    "AccountResetDomainProgress",
    "AccountResetFailed",
    "AccountResetImportsStopped",
    "AccountResetStarted",
    "AccountResetStorageStarted",
    "CancelImport",
    "CandidateDismissed",
    "CheckConnection",
    "CheckConnectionReply",
    "ContactCreated",
    "ContactDeleted",
    "ContactRestored",
    "ContactUpdated",
    "ContactsMergeFailed",
    "ContactsMerged",
    "DeadLetter",
    "DedupScanCompleted",
    "ImportCancelled",
    "ImportCompleted",
    "ImportFailed",
    "ImportMiscCompleted",
    "ImportProgress",
    "MergeContacts",
    "PhonesRenormalized",
    "PhotosSyncCompleted",
    "RenormalizePhones",
    "ResetAccount",
    "ScanDuplicates",
    "StartImport",
    "SyncPhotos",
]
