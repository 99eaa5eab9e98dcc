"""The plain-language reading of an import, as the console and `kith import show` print it."""

from __future__ import annotations

from typing import Any

from kith_common.import_report import duration, report


def _monica_import(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": 7,
        "source": "monica_api",
        "status": "completed",
        "misc_status": "completed",
        "media_status": "completed",
        "options": {"photos": True, "documents": True},
        "created_at": "2026-12-07T10:00:00Z",
        "started_at": "2026-12-07T10:00:00Z",
        "finished_at": "2026-12-07T10:07:54Z",
        "progress": {"phase": "cross_references", "current": 941, "total": 910},
        "summary": {
            "contacts": 945,
            "notes": 1100,
            "relationships": 149,
            "merged": 0,
            "skipped": 0,
            "errors": ["contact 12: a birthday of 31 February was left out"],
            "coverage_backfill": {"imported_full": 29, "imported_partial": 35},
            "requests": 400,
            "rate_limit_wait_seconds": 440.5,
            "misc": {
                "calls": 644,
                "tasks": 319,
                "messages": 1024,
                "conversations": 213,
                "missing": {"calls": 2},
                "requests": 30,
                "rate_limit_wait_seconds": 20.0,
                "errors": [],
            },
        },
        "sync_summary": {
            "total": 3,
            "synced": 1,
            "requests": 3,
            "rate_limit_wait_seconds": 7.5,
            "documents": {"total": 1, "synced": 1, "requests": 1},
            "entries": [
                {
                    "kind": "photo",
                    "monica_id": 4,
                    "status": "not_found",
                    "reason": "upstream_missing",
                },
                {
                    "kind": "photo",
                    "monica_id": 5,
                    "status": "not_found",
                    "reason": "upstream_missing",
                },
                {"kind": "photo", "monica_id": 6, "status": "synced", "reason": None},
            ],
        },
    }
    item.update(overrides)
    return item


def test_a_finished_import_reads_as_sentences_with_its_time_and_waits() -> None:
    told = report(_monica_import())

    assert told.headline == (
        "945 contacts imported (35 only known through relationships), 29 recovered that "
        "Monica's listing skipped, 1,100 notes, 149 relationships"
    )
    assert told.timing == (
        "434 requests to Monica, 7 min 54 s, of which 7 min 48 s waiting for Monica's rate limit"
    )
    assert "644 calls, 319 tasks, 213 conversations, 1,024 messages in the conversations" in (
        told.lines
    )
    assert "1 photo and 1 document stored" in told.lines
    assert "2 items Monica counted were never returned by it." in told.lines
    assert [step.state for step in told.steps] == ["done"] * 6
    assert [(kind.label, kind.count) for kind in told.kinds][:3] == [
        ("Contacts", 945),
        ("Notes", 1100),
        ("Relationships", 149),
    ]
    assert told.errors == ("contact 12: a birthday of 31 February was left out",)
    assert any("import again" in advice for advice in told.advice)
    (group,) = told.media
    assert (group.kind, group.reason, group.count) == ("photo", "no longer in Monica", 2)
    assert group.details[0] == "photo 4: no longer in Monica"
    assert told.current is None  # a finished import shows no progress bar


def test_media_recovered_by_re_listing_and_still_missing_are_said_plainly() -> None:
    sync = {
        "total": 130,
        "synced": 129,
        "recovered": 3,
        "missing": 1,
        "documents": {"total": 120, "synced": 120, "recovered": 1},
    }
    told = report(_monica_import(sync_summary=sync))

    assert (
        "129 photos and 120 documents stored, 3 photos and 1 document recovered that "
        "Monica's listing skipped"
    ) in told.lines
    assert "1 photo Monica counted was never returned by it." in told.lines
    plain = report(_monica_import())
    assert not any("recovered" in line or "photo Monica" in line for line in plain.lines)


def test_a_running_import_never_shows_more_done_than_expected_and_says_what_is_left() -> None:
    told = report(
        _monica_import(
            status="processing",
            misc_status=None,
            media_status=None,
            finished_at=None,
            progress={"phase": "listing", "current": 941, "total": 910, "eta_seconds": 125.0},
        )
    )

    assert (told.current, told.total) == (910, 910)
    assert told.eta == "about 2 min left"
    assert [(step.key, step.state) for step in told.steps] == [
        ("reference_data", "done"),
        ("contacts", "current"),
        ("notes", "waiting"),
        ("coverage", "waiting"),
        ("misc", "waiting"),
        ("media", "waiting"),
    ]


def test_a_failed_phase_is_marked_and_skipped_options_say_so() -> None:
    told = report(
        _monica_import(
            status="failed",
            misc_status=None,
            media_status=None,
            options={"photos": False, "documents": False},
            progress={"phase": "notes", "current": 3, "total": 10},
        )
    )

    states = {step.key: step.state for step in told.steps}
    assert (states["contacts"], states["notes"], states["coverage"]) == (
        "done",
        "failed",
        "skipped",
    )
    assert states["media"] == "skipped"
    assert told.advice[0].startswith("Start the import again")


def test_an_old_or_empty_row_still_reads() -> None:
    told = report({"id": 1, "source": "vcard", "status": "pending", "summary": {}})

    assert told.headline == "0 contacts imported"
    assert told.timing is None
    assert [step.state for step in told.steps] == ["waiting"]


def test_durations_read_as_people_say_them() -> None:
    assert [duration(s) for s in (0, 45, 60, 474, 3600, 3780)] == [
        "0 s",
        "45 s",
        "1 min",
        "7 min 54 s",
        "1 h",
        "1 h 3 min",
    ]
