"""The subject registry: which payload, stream and kind each subject has (ARCHITECTURE §10).

`SUBJECTS` is the single source the bus, the AsyncAPI document and the tests read; a subject
missing here cannot be published or parsed. `build_envelope` and `parse_envelope` are the only
ways to make or read an envelope, so `type` always matches the subject and `data` is always
validated against the registered payload.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, TypeVar, cast

from kith_common.events import payloads as p
from kith_common.events import subjects as s
from kith_common.events.envelope import (
    READER_CONTEXT,
    Envelope,
    EnvelopeHead,
    Payload,
    RawEnvelope,
)

__all__ = [
    "SUBJECTS",
    "EnvelopeTypeError",
    "SubjectKind",
    "SubjectSpec",
    "UnknownSubjectError",
    "build_envelope",
    "build_reply",
    "envelope_model",
    "parse_envelope",
    "parse_reply",
    "payload_type",
    "reply_type",
    "spec_for",
    "validate_envelope",
]

P = TypeVar("P", bound=Payload)

SubjectKind = Literal["command", "event", "rpc", "dlq"]

_RESET_DOMAIN_DURABLES = (
    "reset-imports",
    "reset-dedup",
    "reset-media",
    "reset-notes",
    "reset-conversations",
    "reset-reminders",
    "reset-tasks",
    "reset-journal",
    "reset-activities",
    "reset-audit",
)


@dataclass(frozen=True, slots=True)
class SubjectSpec:
    """One subject of the catalogue.

    Attributes:
        subject: The subject (unprefixed); for dead letters the filter `kith.dlq.>`.
        stream: The JetStream stream, or None for core-NATS request/reply.
        kind: command, event, rpc or dlq.
        payload: The `data` model of its envelopes.
        producers: Who publishes it: `<service> (note)`, `<service>-<role> (note)` or a
            `kith ...` CLI command (see `events.parties`). The NATS permissions of each
            service's user are generated from these, so a service publishes only what is
            declared here (`bus.permissions`).
        consumers: Who reads it, in the same form (durable names where the specs fix them).
        description: What the message means, for the AsyncAPI document.
        reply: The reply's `data` model (rpc only).
    """

    subject: str
    stream: str | None
    kind: SubjectKind
    payload: type[Payload]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    description: str
    reply: type[Payload] | None = field(default=None)

    @property
    def message_type(self) -> str:
        """The envelope `type` of this subject (`import.completed`)."""
        return s.message_type(self.subject)


def _cmd(
    subject: str,
    payload: type[Payload],
    producers: tuple[str, ...],
    consumers: tuple[str, ...],
    description: str,
) -> SubjectSpec:
    return SubjectSpec(subject, s.STREAM_CMD, "command", payload, producers, consumers, description)


def _evt(
    subject: str,
    payload: type[Payload],
    producers: tuple[str, ...],
    consumers: tuple[str, ...],
    description: str,
) -> SubjectSpec:
    return SubjectSpec(subject, s.STREAM_EVT, "event", payload, producers, consumers, description)


_SPECS: tuple[SubjectSpec, ...] = (
    # --- commands ---
    _cmd(
        s.IMPORT_START,
        p.StartImport,
        ("gateway (POST /v1/imports)",),
        ("importer",),
        "Run or resume an import whose row the gateway wrote in the same transaction.",
    ),
    _cmd(
        s.IMPORT_CANCEL,
        p.CancelImport,
        ("gateway (POST /v1/imports/{id}/cancel)",),
        ("importer",),
        "Wake an import phase already set to `cancelling` (e.g. one waiting on the rate "
        "limiter); a running phase also sees `cancelling` at its next checkpoint.",
    ),
    _cmd(
        s.DEDUP_SCAN,
        p.ScanDuplicates,
        (
            "gateway (POST /v1/duplicates/scan)",
            "kith admin dedup-scan --all-accounts (CronJob)",
            "dedup (after a renormalize that changed keys)",
        ),
        ("dedup",),
        "Run a full duplicate scan of one account.",
    ),
    _cmd(
        s.CONTACTS_MERGE,
        p.MergeContacts,
        ("gateway (POST /v1/merges)",),
        ("dedup",),
        "Merge two contacts; the merge id is this envelope's id.",
    ),
    _cmd(
        s.PHONES_RENORMALIZE,
        p.RenormalizePhones,
        (
            "gateway (POST /v1/admin/phones/renormalize)",
            "kith admin phones renormalize --all",
            "dedup (key-version check on start)",
        ),
        ("dedup",),
        "Re-derive phone values and match keys of one account.",
    ),
    _cmd(
        s.PHOTOS_SYNC,
        p.SyncPhotos,
        ("gateway (POST /v1/imports/{id}/media/retry)",),
        ("photos",),
        "Re-run the photo and document sync of a finished Monica import.",
    ),
    _cmd(
        s.ACCOUNT_RESET,
        p.ResetAccount,
        ("gateway (kith_common.resets.admit)",),
        ("reset-orchestrator",),
        "Run an admitted account reset.",
    ),
    # --- request/reply ---
    SubjectSpec(
        s.RPC_IMPORT_CHECK_CONNECTION,
        None,
        "rpc",
        p.CheckConnection,
        ("gateway (POST /v1/imports/monica/check)",),
        ("importer (queue group)",),
        "Core-NATS request (15 s): check a Monica URL and key; the importer replies with "
        "`CheckConnectionReply`. In no stream: a stream would answer with its publish ack.",
        reply=p.CheckConnectionReply,
    ),
    # --- events ---
    _evt(
        s.IMPORT_PROGRESS,
        p.ImportProgress,
        ("importer", "photos (media phase)"),
        (),
        "Progress of an import phase: at its start and end, else at most every 2 s.",
    ),
    _evt(
        s.IMPORT_COMPLETED,
        p.ImportCompleted,
        ("importer",),
        ("dedup (incremental scan)", "importer (misc-data phase)", "photos (media phase)"),
        "An import's crawl or vCard parse completed; follow-up phases and the incremental "
        "duplicate scan start from it.",
    ),
    _evt(
        s.IMPORT_MISC_COMPLETED,
        p.ImportMiscCompleted,
        ("importer",),
        (),
        "An import's misc-data phase completed.",
    ),
    _evt(
        s.IMPORT_CANCELLED,
        p.ImportCancelled,
        (
            "importer",
            "photos",
            "gateway (the imports cancel function)",
            "reset-orchestrator (the imports cancel function)",
        ),
        (),
        "An import phase stopped on `cancelling`, or phases not yet started were cancelled.",
    ),
    _evt(
        s.IMPORT_FAILED,
        p.ImportFailed,
        ("importer", "photos", "importer-dlq (the importer's DLQ hook)"),
        (),
        "An import phase failed for good.",
    ),
    _evt(
        s.PHOTOS_SYNC_COMPLETED,
        p.PhotosSyncCompleted,
        ("photos",),
        (),
        "An import's photo and document sync completed.",
    ),
    _evt(
        s.DEDUP_SCAN_COMPLETED,
        p.DedupScanCompleted,
        ("dedup",),
        (),
        "A full or incremental duplicate scan wrote its results.",
    ),
    _evt(
        s.DEDUP_CANDIDATE_DISMISSED,
        p.CandidateDismissed,
        ("gateway (kith_common.dedup)",),
        (),
        "A user dismissed a duplicate candidate.",
    ),
    _evt(
        s.CONTACT_CREATED,
        p.ContactCreated,
        ("gateway (POST /v1/contacts)",),
        ("dedup (coalesced incremental scan)",),
        "A contact was created through the API.",
    ),
    _evt(
        s.CONTACT_UPDATED,
        p.ContactUpdated,
        ("gateway (PATCH /v1/contacts/{id}, its fields and addresses)",),
        ("dedup (coalesced incremental scan)",),
        "A contact or one of its fields or addresses was changed through the API; `changed` "
        "names what.",
    ),
    _evt(
        s.CONTACT_DELETED,
        p.ContactDeleted,
        ("gateway (DELETE /v1/contacts/{id})",),
        ("dedup (its pending duplicate pairs become obsolete)",),
        "A contact was moved to the trash through the API.",
    ),
    _evt(
        s.CONTACT_RESTORED,
        p.ContactRestored,
        ("gateway (POST /v1/contacts/{id}/restore)",),
        ("dedup (coalesced incremental scan)",),
        "A contact was restored from the trash through the API.",
    ),
    _evt(
        s.CONTACTS_MERGED,
        p.ContactsMerged,
        ("dedup", "importer (auto-merge)"),
        ("photos (deletes dropped blobs)",),
        "Two contacts were merged (through kith_common.merge).",
    ),
    _evt(
        s.CONTACTS_MERGE_FAILED,
        p.ContactsMergeFailed,
        ("dedup",),
        (),
        "A requested merge was refused.",
    ),
    _evt(
        s.PHONES_RENORMALIZED,
        p.PhonesRenormalized,
        ("dedup",),
        (),
        "An account's phone renormalize backfill finished.",
    ),
    _evt(
        s.ACCOUNT_RESET_ACCEPTED,
        p.AccountResetAccepted,
        ("gateway (admission)",),
        (),
        "A reset was admitted and the account generation bumped.",
    ),
    _evt(
        s.ACCOUNT_RESET_IMPORTS_STOPPED,
        p.AccountResetImportsStopped,
        ("reset-orchestrator",),
        (),
        "No import of the resetting account is running any more.",
    ),
    _evt(
        s.ACCOUNT_RESET_STORAGE_STARTED,
        p.AccountResetStorageStarted,
        ("reset-orchestrator",),
        ("reset-storage",),
        "Storage stage of a reset: delete the account's files.",
    ),
    _evt(
        s.ACCOUNT_RESET_STARTED,
        p.AccountResetStarted,
        ("reset-fanin",),
        _RESET_DOMAIN_DURABLES,
        "Domains stage of a reset: the ten domain consumers run in parallel.",
    ),
    _evt(
        s.ACCOUNT_RESET_CONTACTS_STARTED,
        p.AccountResetContactsStarted,
        ("reset-fanin",),
        ("reset-contacts",),
        "Contacts stage of a reset: contacts and tags are deleted last.",
    ),
    _evt(
        s.ACCOUNT_RESET_DOMAIN_PROGRESS,
        p.AccountResetDomainProgress,
        ("reset (each cleanup consumer)",),
        (),
        "Counts so far of one reset domain.",
    ),
    _evt(
        s.ACCOUNT_RESET_DOMAIN_DONE,
        p.AccountResetDomainDone,
        ("reset (each cleanup consumer)",),
        ("reset-fanin",),
        "A reset domain finished; the fan-in advances the stage.",
    ),
    _evt(
        s.ACCOUNT_RESET_DOMAIN_FAILED,
        p.AccountResetDomainFailed,
        ("reset-dlq",),
        (),
        "A reset domain exhausted its deliveries.",
    ),
    _evt(
        s.ACCOUNT_RESET_COMPLETED,
        p.AccountResetCompleted,
        ("reset-fanin",),
        (),
        "A reset completed, with per-domain counts.",
    ),
    _evt(
        s.ACCOUNT_RESET_FAILED,
        p.AccountResetFailed,
        ("reset-dlq",),
        (),
        "A reset failed at one domain; POST /v1/account/reset retries it.",
    ),
    # --- dead letters ---
    SubjectSpec(
        s.DLQ_ALL,
        s.STREAM_DLQ,
        "dlq",
        p.DeadLetter,
        ("the bus, after max_deliver",),
        ("reset-dlq (reset letters only)", "importer-dlq (the importer's DLQ hook)"),
        "`kith.dlq.<durable>`: a message that failed max_deliver times, with the failure; "
        "listed and replayed by GET /v1/admin/dlq.",
    ),
)

SUBJECTS: dict[str, SubjectSpec] = {spec.subject: spec for spec in _SPECS}
"""Every subject (unprefixed) → its spec; dead letters under `kith.dlq.>`."""


class UnknownSubjectError(LookupError):
    """A subject that is not in the catalogue (ARCHITECTURE §10)."""


class EnvelopeTypeError(ValueError):
    """An envelope whose `type` does not belong to the subject it arrived on."""


def spec_for(subject: str) -> SubjectSpec:
    """The spec of a subject, test prefix ignored; every `kith.dlq.<durable>` maps to the DLQ.

    Raises:
        UnknownSubjectError: The subject is not in the catalogue.
    """
    bare = s.unprefixed(subject)
    spec = SUBJECTS.get(bare)
    if spec is None and bare.startswith(s.DLQ_PREFIX) and bare != s.DLQ_ALL:
        spec = SUBJECTS[s.DLQ_ALL]
    if spec is None:
        msg = f"no such subject in the catalogue: {subject!r}"
        raise UnknownSubjectError(msg)
    return spec


def payload_type(subject: str) -> type[Payload]:
    """The `data` model of a subject's envelopes (see `spec_for`)."""
    return spec_for(subject).payload


@cache
def envelope_model(payload: type[P]) -> type[Envelope[P]]:
    """`Envelope[payload]`, the concrete model that validates and serialises `data` as `payload`.

    Serialising through `Envelope[Payload]` would drop every field of `data`, since pydantic
    serialises by the declared type; always go through this.
    """
    return Envelope[payload]  # type: ignore[valid-type]  # a runtime type parameter


def build_envelope(
    subject: str,
    data: P,
    *,
    account_id: int | None,
    generation: int | None,
    correlation_id: uuid.UUID | None = None,
    id: uuid.UUID | None = None,
    occurred_at: dt.datetime | None = None,
) -> Envelope[P]:
    """Wrap `data` for `subject`, with `type` derived from the subject.

    Args:
        subject: A catalogue subject (a test prefix is ignored; a dead letter uses
            `dlq_subject(durable)`).
        data: The payload; must be an instance of the subject's registered type.
        account_id: The account concerned; None only for system messages.
        generation: The account generation current in the producer's transaction.
        correlation_id: The HTTP request id that started the chain, if any.
        id: The envelope id (also `Nats-Msg-Id`); a new UUID4 when omitted. Pass a
            deterministic id (uuid5) when a producer must not repeat itself.
        occurred_at: Defaults to now (UTC).

    Raises:
        UnknownSubjectError: The subject is not in the catalogue.
        TypeError: `data` is not the subject's payload type.
    """
    expected = payload_type(subject)
    if type(data) is not expected:
        msg = f"{subject} carries {expected.__name__}, not {type(data).__name__}"
        raise TypeError(msg)
    head: dict[str, Any] = {
        "type": s.message_type(subject),
        "account_id": account_id,
        "generation": generation,
        "correlation_id": correlation_id,
    }
    if id is not None:
        head["id"] = id
    if occurred_at is not None:
        head["occurred_at"] = occurred_at
    return envelope_model(type(data))(data=data, **head)


def _check_type(subject: str, envelope_type: str) -> None:
    expected = s.message_type(subject)
    if envelope_type != expected:
        msg = f"envelope type {envelope_type!r} arrived on {subject!r} (expected {expected!r})"
        raise EnvelopeTypeError(msg)


def parse_envelope(subject: str, raw: bytes | str) -> Envelope[Payload]:
    """Parse and validate a message body received on `subject` (a tolerant reader).

    Unknown fields are ignored and any `schema_version` is accepted (see `envelope`). The
    envelope's `type` is checked before its `data`, so a message on the wrong subject says
    so instead of listing every field of the wrong payload.

    Returns:
        The envelope, with `data` an instance of the subject's payload type.

    Raises:
        UnknownSubjectError: The subject is not in the catalogue.
        pydantic.ValidationError: The body is not a valid envelope for this subject.
        EnvelopeTypeError: The envelope's `type` belongs to another subject.
    """
    return validate_envelope(subject, RawEnvelope.model_validate_json(raw))


def validate_envelope(subject: str, raw: RawEnvelope) -> Envelope[Payload]:
    """Validate the `data` of an envelope already parsed as `RawEnvelope` (same errors)."""
    payload = payload_type(subject)
    _check_type(subject, raw.type)
    envelope = envelope_model(payload).model_validate(
        raw.model_dump(exclude_unset=True), context=READER_CONTEXT
    )
    return cast(Envelope[Payload], envelope)


# --- request/reply ---------------------------------------------------------------------------


def _rpc_spec(subject: str) -> tuple[SubjectSpec, type[Payload]]:
    spec = spec_for(subject)
    if spec.reply is None:
        msg = f"{subject!r} is not a request/reply subject"
        raise UnknownSubjectError(msg)
    return spec, spec.reply


def reply_type(subject: str) -> str:
    """The envelope `type` of a reply: the request's type plus `.reply`."""
    return f"{s.message_type(subject)}.reply"


def build_reply(subject: str, data: P, *, request: EnvelopeHead) -> Envelope[P]:
    """Wrap the reply to a request received on `subject`, scoped like the request.

    Raises:
        UnknownSubjectError: The subject has no reply.
        TypeError: `data` is not the subject's reply type.
    """
    _, expected = _rpc_spec(subject)
    if type(data) is not expected:
        msg = f"{subject} replies with {expected.__name__}, not {type(data).__name__}"
        raise TypeError(msg)
    return envelope_model(type(data))(
        data=data,
        type=reply_type(subject),
        account_id=request.account_id,
        generation=request.generation,
        correlation_id=request.correlation_id,
    )


def parse_reply(subject: str, raw: bytes | str) -> Envelope[Payload]:
    """Parse and validate the reply to a request sent on `subject` (errors as `parse_envelope`)."""
    _, expected = _rpc_spec(subject)
    head = RawEnvelope.model_validate_json(raw)
    if head.type != reply_type(subject):
        msg = f"reply type {head.type!r} does not answer {subject!r}"
        raise EnvelopeTypeError(msg)
    envelope = envelope_model(expected).model_validate(
        head.model_dump(exclude_unset=True), context=READER_CONTEXT
    )
    return cast(Envelope[Payload], envelope)
