"""Subject spelling (CONVENTIONS §5) and the test-isolation helpers of `events.subjects`."""

from __future__ import annotations

import re

import pytest

from kith_common.events import subjects as s
from kith_common.events.registry import SUBJECTS

SUBJECT_CONSTANTS = {
    name: value
    for name, value in vars(s).items()
    if name.isupper()
    and isinstance(value, str)
    and value.startswith("kith.")
    and not value.endswith((".", ">"))
}

# ARCHITECTURE §10 names these progress reports `progress`, not a past fact.
NOT_PAST_FACTS = {s.IMPORT_PROGRESS, s.ACCOUNT_RESET_DOMAIN_PROGRESS}
TOKEN = r"[a-z][a-z0-9_]*"


def test_every_subject_constant_is_registered() -> None:
    assert set(SUBJECT_CONSTANTS.values()) - set(SUBJECTS) == set()


def test_subject_constants_are_unique() -> None:
    values = list(SUBJECT_CONSTANTS.values())
    assert len(values) == len(set(values))


@pytest.mark.parametrize("subject", sorted(SUBJECT_CONSTANTS.values()))
def test_subject_follows_the_naming_rules(subject: str) -> None:
    kind = subject.split(".")[1]
    if kind in ("cmd", "rpc"):
        assert re.fullmatch(rf"kith\.{kind}\.{TOKEN}\.{TOKEN}", subject), "<domain>.<verb>"
        assert not subject.endswith("ed"), "a command is a verb, not a past fact"
    else:
        assert kind == "evt"
        assert re.fullmatch(rf"kith\.evt\.{TOKEN}(\.{TOKEN})+", subject), "<domain>.<fact>"
        last_word = subject.rsplit(".", 1)[-1].rsplit("_", 1)[-1]
        assert subject in NOT_PAST_FACTS or last_word.endswith("ed") or last_word == "done", (
            "an event names a past fact"
        )


def test_streams_and_their_filters() -> None:
    assert s.STREAMS == {
        "KITH_CMD": "kith.cmd.>",
        "KITH_EVT": "kith.evt.>",
        "KITH_DLQ": "kith.dlq.>",
    }


def test_dlq_subject_is_per_durable() -> None:
    assert s.dlq_subject("reset-notes") == "kith.dlq.reset-notes"
    assert s.dlq_consumer("kith.dlq.reset-notes") == "reset-notes"
    assert s.dlq_consumer("t1a2.kith.dlq.reset-notes") == "reset-notes"


@pytest.mark.parametrize("durable", ["", "Reset-Notes", "reset_notes", "reset.notes", "a>", "-x"])
def test_dlq_subject_refuses_non_durable_names(durable: str) -> None:
    with pytest.raises(ValueError, match="durable"):
        s.dlq_subject(durable)


def test_dlq_consumer_refuses_other_subjects() -> None:
    with pytest.raises(ValueError, match="dead-letter"):
        s.dlq_consumer(s.IMPORT_START)


def test_prefix_isolates_subjects_and_streams() -> None:
    assert s.prefixed(s.IMPORT_START, "t1a2") == "t1a2.kith.cmd.import.start"
    assert s.prefixed(s.STREAM_EVT_SUBJECTS, "t1a2") == "t1a2.kith.evt.>"
    assert s.stream_name(s.STREAM_CMD, "t1a2") == "t1a2_KITH_CMD"


def test_empty_prefix_changes_nothing() -> None:
    assert s.prefixed(s.IMPORT_START, "") == s.IMPORT_START
    assert s.stream_name(s.STREAM_CMD, "") == s.STREAM_CMD
    assert s.prefixed(s.IMPORT_START) == s.IMPORT_START


@pytest.mark.parametrize("prefix", ["a.b", "t*", "t>", "has space", "a/b"])
def test_prefix_refuses_characters_of_subjects_or_paths(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        s.prefixed(s.IMPORT_START, prefix)
    with pytest.raises(ValueError, match="prefix"):
        s.stream_name(s.STREAM_CMD, prefix)


def test_unprefixed_undoes_prefixed() -> None:
    for subject in SUBJECT_CONSTANTS.values():
        assert s.unprefixed(s.prefixed(subject, "t1a2")) == subject
        assert s.unprefixed(subject) == subject
    assert s.unprefixed("other.subject") == "other.subject"


def test_message_type_drops_the_kind() -> None:
    assert s.message_type(s.IMPORT_COMPLETED) == "import.completed"
    assert s.message_type(s.IMPORT_START) == "import.start"
    assert s.message_type(s.RPC_IMPORT_CHECK_CONNECTION) == "import.check_connection"
    assert s.message_type(s.dlq_subject("reset-notes")) == "dlq.reset-notes"
    assert s.message_type(s.prefixed(s.IMPORT_COMPLETED, "t1")) == "import.completed"
    with pytest.raises(ValueError, match="not a Kith subject"):
        s.message_type("orders.created")
