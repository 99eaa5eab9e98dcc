"""Every NATS subject and JetStream stream name Kith uses (ARCHITECTURE §3, §10).

Subjects are constants here and never assembled in handlers (CONVENTIONS §5): a subject is part
of the public contract, so one module owns the spelling. Tests isolate themselves on a shared
server with a prefix: `prefixed()` turns `kith.cmd.import.start` into `t1a2.kith.cmd.import.start`
and `stream_name()` turns `KITH_CMD` into `t1a2_KITH_CMD`; the empty prefix changes nothing.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "ACCOUNT_RESET",
    "ACCOUNT_RESET_ACCEPTED",
    "ACCOUNT_RESET_COMPLETED",
    "ACCOUNT_RESET_CONTACTS_STARTED",
    "ACCOUNT_RESET_DOMAIN_DONE",
    "ACCOUNT_RESET_DOMAIN_FAILED",
    "ACCOUNT_RESET_DOMAIN_PROGRESS",
    "ACCOUNT_RESET_FAILED",
    "ACCOUNT_RESET_IMPORTS_STOPPED",
    "ACCOUNT_RESET_STARTED",
    "ACCOUNT_RESET_STORAGE_STARTED",
    "CMD_PREFIX",
    "CONTACTS_MERGE",
    "CONTACTS_MERGED",
    "CONTACTS_MERGE_FAILED",
    "CONTACT_CHANGES",
    "CONTACT_CREATED",
    "CONTACT_DELETED",
    "CONTACT_RESTORED",
    "CONTACT_UPDATED",
    "DEDUP_CANDIDATE_DISMISSED",
    "DEDUP_SCAN",
    "DEDUP_SCAN_COMPLETED",
    "DLQ_ALL",
    "DLQ_PREFIX",
    "EVT_ALL",
    "EVT_PREFIX",
    "IMPORT_CANCEL",
    "IMPORT_CANCELLED",
    "IMPORT_COMPLETED",
    "IMPORT_FAILED",
    "IMPORT_MISC_COMPLETED",
    "IMPORT_PROGRESS",
    "IMPORT_START",
    "PHONES_RENORMALIZE",
    "PHONES_RENORMALIZED",
    "PHOTOS_SYNC",
    "PHOTOS_SYNC_COMPLETED",
    "RPC_IMPORT_CHECK_CONNECTION",
    "RPC_PREFIX",
    "STREAMS",
    "STREAM_CMD",
    "STREAM_CMD_SUBJECTS",
    "STREAM_DLQ",
    "STREAM_DLQ_SUBJECTS",
    "STREAM_EVT",
    "STREAM_EVT_SUBJECTS",
    "dlq_consumer",
    "dlq_subject",
    "message_type",
    "prefixed",
    "stream_name",
    "unprefixed",
    "validate_prefix",
]

# --- kinds -------------------------------------------------------------------------------------

CMD_PREFIX: Final = "kith.cmd."
EVT_PREFIX: Final = "kith.evt."
RPC_PREFIX: Final = "kith.rpc."
DLQ_PREFIX: Final = "kith.dlq."

# --- streams (ARCHITECTURE §3) -----------------------------------------------------------------

STREAM_CMD: Final = "KITH_CMD"
"""Commands: work-queue retention, each handled once by one service."""
STREAM_EVT: Final = "KITH_EVT"
"""Events: limits retention (KITH_EVENT_RETENTION_DAYS), any number of durable consumers."""
STREAM_DLQ: Final = "KITH_DLQ"
"""Dead letters: one subject per durable consumer, `kith.dlq.<durable>`."""

STREAM_CMD_SUBJECTS: Final = "kith.cmd.>"
STREAM_EVT_SUBJECTS: Final = "kith.evt.>"
STREAM_DLQ_SUBJECTS: Final = "kith.dlq.>"
EVT_ALL: Final = STREAM_EVT_SUBJECTS
"""What the gateway's live stream and other systems subscribe to."""
DLQ_ALL: Final = STREAM_DLQ_SUBJECTS
"""Every dead letter (the `reset-dlq` consumer and the admin API read this)."""

STREAMS: Final[dict[str, str]] = {
    STREAM_CMD: STREAM_CMD_SUBJECTS,
    STREAM_EVT: STREAM_EVT_SUBJECTS,
    STREAM_DLQ: STREAM_DLQ_SUBJECTS,
}
"""Stream name → its subject filter (unprefixed)."""

# --- commands: kith.cmd.<domain>.<verb> (stream KITH_CMD) ---------------------------------------

IMPORT_START: Final = "kith.cmd.import.start"
IMPORT_CANCEL: Final = "kith.cmd.import.cancel"
DEDUP_SCAN: Final = "kith.cmd.dedup.scan"
CONTACTS_MERGE: Final = "kith.cmd.contacts.merge"
PHONES_RENORMALIZE: Final = "kith.cmd.phones.renormalize"
PHOTOS_SYNC: Final = "kith.cmd.photos.sync"
ACCOUNT_RESET: Final = "kith.cmd.account.reset"

# --- request/reply: kith.rpc.<domain>.<verb> (core NATS, no stream) -----------------------------

RPC_IMPORT_CHECK_CONNECTION: Final = "kith.rpc.import.check_connection"

# --- events: kith.evt.<domain>.<past_fact> (stream KITH_EVT) ------------------------------------

IMPORT_PROGRESS: Final = "kith.evt.import.progress"
IMPORT_COMPLETED: Final = "kith.evt.import.completed"
IMPORT_MISC_COMPLETED: Final = "kith.evt.import.misc_completed"
IMPORT_CANCELLED: Final = "kith.evt.import.cancelled"
IMPORT_FAILED: Final = "kith.evt.import.failed"
PHOTOS_SYNC_COMPLETED: Final = "kith.evt.photos.sync_completed"
DEDUP_SCAN_COMPLETED: Final = "kith.evt.dedup.scan.completed"
DEDUP_CANDIDATE_DISMISSED: Final = "kith.evt.dedup.candidate.dismissed"
CONTACT_CREATED: Final = "kith.evt.contact.created"
CONTACT_UPDATED: Final = "kith.evt.contact.updated"
CONTACT_DELETED: Final = "kith.evt.contact.deleted"
CONTACT_RESTORED: Final = "kith.evt.contact.restored"
CONTACT_CHANGES: Final = "kith.evt.contact.>"
"""Filter of the four contact.* events (dedup's coalesced incremental scan)."""
CONTACTS_MERGED: Final = "kith.evt.contacts.merged"
CONTACTS_MERGE_FAILED: Final = "kith.evt.contacts.merge_failed"
PHONES_RENORMALIZED: Final = "kith.evt.phones.renormalized"
ACCOUNT_RESET_ACCEPTED: Final = "kith.evt.account.reset.accepted"
ACCOUNT_RESET_IMPORTS_STOPPED: Final = "kith.evt.account.reset.imports_stopped"
ACCOUNT_RESET_STORAGE_STARTED: Final = "kith.evt.account.reset.storage_started"
ACCOUNT_RESET_STARTED: Final = "kith.evt.account.reset.started"
ACCOUNT_RESET_CONTACTS_STARTED: Final = "kith.evt.account.reset.contacts_started"
ACCOUNT_RESET_DOMAIN_PROGRESS: Final = "kith.evt.account.reset.domain_progress"
ACCOUNT_RESET_DOMAIN_DONE: Final = "kith.evt.account.reset.domain_done"
ACCOUNT_RESET_DOMAIN_FAILED: Final = "kith.evt.account.reset.domain_failed"
ACCOUNT_RESET_COMPLETED: Final = "kith.evt.account.reset.completed"
ACCOUNT_RESET_FAILED: Final = "kith.evt.account.reset.failed"

# --- dead letters: kith.dlq.<durable> (stream KITH_DLQ) -----------------------------------------

# CONVENTIONS §5: durables are kebab case, `<service>-<role>`.
_DURABLE_RE: Final = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# A prefix is one subject token that is also valid in a stream name: no dots, wildcards or spaces.
_PREFIX_RE: Final = re.compile(r"^[A-Za-z0-9_-]+$")


def dlq_subject(durable: str) -> str:
    """The dead-letter subject of one durable consumer.

    Args:
        durable: The consumer's durable name, e.g. `reset-notes`.

    Returns:
        `kith.dlq.<durable>`.

    Raises:
        ValueError: The name is not a kebab-case durable name.
    """
    if not _DURABLE_RE.fullmatch(durable):
        msg = f"not a durable name (kebab case, CONVENTIONS §5): {durable!r}"
        raise ValueError(msg)
    return DLQ_PREFIX + durable


def dlq_consumer(subject: str) -> str:
    """The durable name a (possibly prefixed) `kith.dlq.<durable>` subject belongs to.

    Raises:
        ValueError: The subject is not a dead-letter subject.
    """
    bare = unprefixed(subject)
    if not bare.startswith(DLQ_PREFIX) or "." in bare.removeprefix(DLQ_PREFIX):
        msg = f"not a dead-letter subject: {subject!r}"
        raise ValueError(msg)
    return bare.removeprefix(DLQ_PREFIX)


def message_type(subject: str) -> str:
    """The envelope `type` of a subject: the subject without `kith.<kind>.`.

    `kith.evt.import.completed` → `import.completed`, `kith.dlq.reset-notes` → `dlq.reset-notes`
    (a dead letter keeps `dlq.` so it is never mistaken for the message it carries). A test
    prefix is ignored.
    """
    bare = unprefixed(subject)
    for kind_prefix in (CMD_PREFIX, EVT_PREFIX, RPC_PREFIX):
        if bare.startswith(kind_prefix):
            return bare.removeprefix(kind_prefix)
    if bare.startswith(DLQ_PREFIX):
        return bare.removeprefix("kith.")
    msg = f"not a Kith subject: {subject!r}"
    raise ValueError(msg)


# --- test isolation -----------------------------------------------------------------------------


def validate_prefix(prefix: str) -> str:
    """Return `prefix` if it can prefix both subjects and stream names.

    Raises:
        ValueError: It contains a dot, a wildcard, whitespace or another character stream
            names refuse.
    """
    if prefix and not _PREFIX_RE.fullmatch(prefix):
        msg = f"a prefix is letters, digits, '_' and '-' only: {prefix!r}"
        raise ValueError(msg)
    return prefix


def prefixed(subject: str, prefix: str = "") -> str:
    """`subject` under a test prefix: `("kith.cmd.import.start", "t1a2")` → `t1a2.kith.cmd...`.

    Works for subject filters too (`kith.evt.>`). The empty prefix returns `subject` unchanged.
    """
    return f"{validate_prefix(prefix)}.{subject}" if prefix else subject


def stream_name(base: str, prefix: str = "") -> str:
    """A stream name under a test prefix: `("KITH_CMD", "t1a2")` → `t1a2_KITH_CMD`."""
    return f"{validate_prefix(prefix)}_{base}" if prefix else base


def unprefixed(subject: str) -> str:
    """`subject` without a test prefix, if it has one; a `kith.` subject is returned as is.

    A prefix is a single token (no dots), so `t1a2.kith.evt.x` → `kith.evt.x` is unambiguous.
    """
    if subject.startswith("kith."):
        return subject
    head, sep, rest = subject.partition(".")
    if sep and rest.startswith("kith.") and _PREFIX_RE.fullmatch(head):
        return rest
    return subject
