"""The registry against the catalogue (ARCHITECTURE §10), and envelope build/parse round trips."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from kith_common.events import subjects as s
from kith_common.events.envelope import RawEnvelope
from kith_common.events.examples import EXAMPLES, REPLIES, publish_subject
from kith_common.events.payloads import CheckConnectionReply, ImportProgress, StartImport
from kith_common.events.registry import (
    SUBJECTS,
    EnvelopeTypeError,
    UnknownSubjectError,
    build_envelope,
    build_reply,
    parse_envelope,
    parse_reply,
    payload_type,
    spec_for,
    validate_envelope,
)

REPO = Path(__file__).resolve().parents[4]
ARCHITECTURE_MD = REPO.parent / "shared" / "design" / "ARCHITECTURE.md"

# ARCHITECTURE.md §10 at the time of writing, used when the design folder is not beside the repo.
CATALOGUE_FALLBACK = {
    "kith.cmd.import.start": "KITH_CMD",
    "kith.cmd.import.cancel": "KITH_CMD",
    "kith.cmd.dedup.scan": "KITH_CMD",
    "kith.cmd.contacts.merge": "KITH_CMD",
    "kith.cmd.phones.renormalize": "KITH_CMD",
    "kith.cmd.photos.sync": "KITH_CMD",
    "kith.cmd.account.reset": "KITH_CMD",
    "kith.rpc.import.check_connection": None,
    "kith.evt.import.progress": "KITH_EVT",
    "kith.evt.import.completed": "KITH_EVT",
    "kith.evt.import.misc_completed": "KITH_EVT",
    "kith.evt.import.cancelled": "KITH_EVT",
    "kith.evt.import.failed": "KITH_EVT",
    "kith.evt.photos.sync_completed": "KITH_EVT",
    "kith.evt.dedup.scan.completed": "KITH_EVT",
    "kith.evt.dedup.candidate.dismissed": "KITH_EVT",
    "kith.evt.contacts.merged": "KITH_EVT",
    "kith.evt.contacts.merge_failed": "KITH_EVT",
    "kith.evt.phones.renormalized": "KITH_EVT",
    "kith.evt.account.reset.accepted": "KITH_EVT",
    "kith.evt.account.reset.imports_stopped": "KITH_EVT",
    "kith.evt.account.reset.storage_started": "KITH_EVT",
    "kith.evt.account.reset.started": "KITH_EVT",
    "kith.evt.account.reset.contacts_started": "KITH_EVT",
    "kith.evt.account.reset.domain_progress": "KITH_EVT",
    "kith.evt.account.reset.domain_done": "KITH_EVT",
    "kith.evt.account.reset.domain_failed": "KITH_EVT",
    "kith.evt.account.reset.completed": "KITH_EVT",
    "kith.evt.account.reset.failed": "KITH_EVT",
    "kith.dlq.>": "KITH_DLQ",
}


# Subjects this repository added after the design's §10 table was written; each is documented
# for subscribers in docs/events.md (checked below), the repository's own catalogue.
ADDED_SINCE_THE_DESIGN = {
    "kith.evt.contact.created": "KITH_EVT",
    "kith.evt.contact.updated": "KITH_EVT",
    "kith.evt.contact.deleted": "KITH_EVT",
    "kith.evt.contact.restored": "KITH_EVT",
}


def catalogue() -> dict[str, str | None]:
    """Subject → stream from the §10 table (`kith.dlq.<consumer>` read as `kith.dlq.>`), plus
    the subjects added since."""
    return {**_design_catalogue(), **ADDED_SINCE_THE_DESIGN}


def test_subjects_added_since_the_design_are_documented_for_subscribers() -> None:
    events_md = (REPO / "docs" / "events.md").read_text(encoding="utf-8")
    for subject in ADDED_SINCE_THE_DESIGN:
        assert subject.removeprefix("kith.evt.") in events_md, subject


def _design_catalogue() -> dict[str, str | None]:
    if not ARCHITECTURE_MD.is_file():
        return CATALOGUE_FALLBACK
    text = ARCHITECTURE_MD.read_text(encoding="utf-8")
    section = text.split("## 10. Subject catalogue", 1)[1]
    rows: dict[str, str | None] = {}
    for match in re.finditer(r"^\| `(kith\.[^`]+)` \| ([^|]+) \|", section, re.MULTILINE):
        subject, stream = match[1], match[2].strip()
        subject = s.DLQ_ALL if subject.startswith(s.DLQ_PREFIX) else subject
        rows[subject] = stream if stream.startswith("KITH_") else None
    assert len(rows) >= len(CATALOGUE_FALLBACK), "the §10 table did not parse"
    return rows


def test_every_catalogued_subject_is_registered_with_its_stream() -> None:
    table = catalogue()
    assert {subject: SUBJECTS[subject].stream for subject in table if subject in SUBJECTS} == table
    assert set(table) - set(SUBJECTS) == set(), "catalogued subjects missing from SUBJECTS"


def test_registry_has_nothing_the_catalogue_lacks() -> None:
    assert set(SUBJECTS) - set(catalogue()) == set()


def test_kind_and_stream_follow_the_subject() -> None:
    expected = {
        "cmd": ("command", s.STREAM_CMD),
        "evt": ("event", s.STREAM_EVT),
        "rpc": ("rpc", None),
        "dlq": ("dlq", s.STREAM_DLQ),
    }
    for subject, spec in SUBJECTS.items():
        assert spec.subject == subject
        assert (spec.kind, spec.stream) == expected[subject.split(".")[1]], subject
        assert spec.producers, subject
        assert (spec.reply is not None) == (spec.kind == "rpc"), subject


def test_one_payload_type_per_subject() -> None:
    types = [spec.payload for spec in SUBJECTS.values()]
    assert len(types) == len(set(types))


def test_every_subject_has_an_example() -> None:
    assert set(EXAMPLES) == set(SUBJECTS)
    for subject, example in EXAMPLES.items():
        assert type(example) is payload_type(subject)


@pytest.mark.parametrize("subject", sorted(SUBJECTS))
def test_envelope_round_trips(subject: str) -> None:
    data = EXAMPLES[subject]
    on = publish_subject(subject)
    correlation_id = uuid.uuid4()
    envelope = build_envelope(on, data, account_id=7, generation=3, correlation_id=correlation_id)

    parsed = parse_envelope(on, envelope.model_dump_json().encode())

    assert parsed == envelope
    assert parsed.type == s.message_type(on)
    assert type(parsed.data) is type(data)
    assert parsed.data == data
    assert (parsed.account_id, parsed.generation, parsed.correlation_id) == (7, 3, correlation_id)


@pytest.mark.parametrize("subject", sorted(SUBJECTS))
def test_prefixed_subject_parses_like_the_plain_one(subject: str) -> None:
    on = publish_subject(subject)
    envelope = build_envelope(on, EXAMPLES[subject], account_id=7, generation=3)
    raw = envelope.model_dump_json()
    assert parse_envelope(s.prefixed(on, "t1a2"), raw) == envelope


def test_build_keeps_a_given_id() -> None:
    msg_id = uuid.uuid5(uuid.NAMESPACE_URL, "kith:7:renormalize")
    envelope = build_envelope(
        s.PHONES_RENORMALIZE, EXAMPLES[s.PHONES_RENORMALIZE], account_id=7, generation=1, id=msg_id
    )
    assert envelope.id == msg_id


def test_build_refuses_another_subjects_payload() -> None:
    with pytest.raises(TypeError, match="StartImport"):
        build_envelope(s.IMPORT_CANCEL, StartImport(import_id=1), account_id=1, generation=1)


def test_unknown_subject_is_refused() -> None:
    with pytest.raises(UnknownSubjectError):
        payload_type("kith.evt.import.exploded")
    with pytest.raises(UnknownSubjectError):
        build_envelope("kith.cmd.nope.do", StartImport(import_id=1), account_id=1, generation=1)


def test_every_dead_letter_subject_maps_to_the_dlq_spec() -> None:
    assert spec_for("kith.dlq.importer-start") is SUBJECTS[s.DLQ_ALL]
    assert spec_for("t9.kith.dlq.reset-notes") is SUBJECTS[s.DLQ_ALL]


def test_envelope_on_the_wrong_subject_is_refused() -> None:
    envelope = build_envelope(s.IMPORT_START, StartImport(import_id=1), account_id=1, generation=1)
    with pytest.raises(EnvelopeTypeError):
        parse_envelope(s.IMPORT_CANCEL, envelope.model_dump_json())


def test_payload_not_matching_the_subject_is_refused() -> None:
    envelope = build_envelope(
        s.IMPORT_PROGRESS,
        ImportProgress(import_id=1, phase="listing", current=1, total=2),
        account_id=1,
        generation=1,
    )
    raw = envelope.model_dump_json().replace('"listing"', '"sightseeing"')
    with pytest.raises(ValidationError):
        parse_envelope(s.IMPORT_PROGRESS, raw)


def test_raw_envelope_validates_into_the_typed_one() -> None:
    envelope = build_envelope(
        s.CONTACTS_MERGED, EXAMPLES[s.CONTACTS_MERGED], account_id=7, generation=2
    )
    raw = RawEnvelope.model_validate_json(envelope.model_dump_json())
    assert validate_envelope(s.CONTACTS_MERGED, raw) == envelope


def test_reply_round_trips_with_the_requests_scope() -> None:
    request = build_envelope(
        s.RPC_IMPORT_CHECK_CONNECTION,
        EXAMPLES[s.RPC_IMPORT_CHECK_CONNECTION],
        account_id=7,
        generation=2,
        correlation_id=uuid.uuid4(),
    )
    reply_data = REPLIES[s.RPC_IMPORT_CHECK_CONNECTION]
    reply = build_reply(s.RPC_IMPORT_CHECK_CONNECTION, reply_data, request=request)

    parsed = parse_reply(s.RPC_IMPORT_CHECK_CONNECTION, reply.model_dump_json())

    assert parsed == reply
    assert parsed.type == "import.check_connection.reply"
    assert (parsed.account_id, parsed.correlation_id) == (7, request.correlation_id)
    with pytest.raises(EnvelopeTypeError):
        parse_envelope(s.RPC_IMPORT_CHECK_CONNECTION, reply.model_dump_json())


def test_only_rpc_subjects_have_replies() -> None:
    reply = CheckConnectionReply(ok=False, code="invalid_key", message="Monica rejected the key")
    request = build_envelope(s.IMPORT_START, StartImport(import_id=1), account_id=1, generation=1)
    with pytest.raises(UnknownSubjectError):
        build_reply(s.IMPORT_START, reply, request=request)
