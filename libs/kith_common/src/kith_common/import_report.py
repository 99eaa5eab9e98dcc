"""An import told in plain language: one shared reading for the console and `kith import show`.

The import row's `summary` and `sync_summary` are bookkeeping (importer.md §10, §12): counters
named for the code, nested by phase, with waits in fractional seconds. A person wants to know
what arrived, what is missing, how long it took and why. `report(item)` turns the JSON of
`GET /v1/imports/{id}` into sentences, a phase stepper and per-kind counts, so the console and
the CLI say the same thing in the same words. Missing keys read as zero: an old row, a vCard
import and a running one all render.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from kith_common.progress import eta_text

__all__ = [
    "KindCount",
    "MediaGroup",
    "Report",
    "Step",
    "StepState",
    "duration",
    "number",
    "report",
]

StepState = Literal["done", "current", "waiting", "skipped", "failed"]

RUNNING: Final = ("pending", "processing", "running", "cancelling")
# The crawl's phases (importer.md §7) as the steps a person recognises; several phases of the
# code make one step ("coverage" is the backfill, the auto-merge and the cross references).
CRAWL_STEPS: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    ("reference_data", "Reference data", ("reference_data",)),
    ("contacts", "Contacts", ("listing",)),
    ("notes", "Notes", ("notes",)),
    ("coverage", "Coverage", ("coverage_backfill", "auto_merge", "cross_references")),
)
# What the misc phase brings, in the order the summary lists it: (summary key, label).
MISC_KINDS: Final = (
    ("calls", "calls"),
    ("activities", "activities"),
    ("tasks", "tasks"),
    ("conversations", "conversations"),
    ("reminders", "reminders"),
    ("life_events", "life events"),
    ("pets", "pets"),
    ("gifts", "gifts"),
    ("debts", "debts"),
    ("journal_entries", "journal entries"),
)
# What a media failure reason means to a person, and what they can do about it.
MEDIA_REASONS: Final[Mapping[str, str]] = {
    "not_found": "no longer in Monica",
    "upstream_missing": "no longer in Monica",
    "contact_not_found": "its contact was not imported",
    "contact_deleted": "its contact was deleted here",
    "no_contact": "attached to no contact",
    "too_large": "larger than the size limit",
    "refused_host": "link refused (private or unsafe address)",
    "download_error": "the download failed (retry photos and documents later)",
    "login_page": "Monica answered with a login page instead of the file",
    "decode_error": "not a readable image",
    "no_data_url": "Monica sent no image data",
    "no_link": "Monica gave no download link",
}


@dataclass(frozen=True, slots=True)
class Step:
    """One phase of the stepper."""

    key: str
    label: str
    state: StepState


@dataclass(frozen=True, slots=True)
class KindCount:
    """How many of one kind arrived (the console draws these as bars)."""

    key: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class MediaGroup:
    """Photo or document outcomes that share one reason, details folded under it."""

    kind: str
    reason: str
    count: int
    details: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Report:
    """Everything `report` read from one import."""

    headline: str
    lines: tuple[str, ...]
    timing: str | None
    steps: tuple[Step, ...]
    kinds: tuple[KindCount, ...]
    errors: tuple[str, ...]
    media: tuple[MediaGroup, ...]
    current: int | None = None
    total: int | None = None
    phase: str | None = None
    eta: str | None = None
    advice: tuple[str, ...] = field(default_factory=tuple)


def number(value: int) -> str:
    """1100 → "1,100": counts people read at a glance."""
    return f"{value:,}"


def duration(seconds: float) -> str:
    """A duration as a person says it: "45 s", "7 min 54 s", "1 h 3 min"."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _int(data: Mapping[str, Any] | None, key: str) -> int:
    value = (data or {}).get(key)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _float(data: Mapping[str, Any] | None, key: str) -> float:
    value = (data or {}).get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _mapping(data: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    value = (data or {}).get(key)
    return value if isinstance(value, Mapping) else {}


def _plural(count: int, word: str) -> str:
    return f"{number(count)} {word if count == 1 else word + 's'}"


def _contacts_sentence(summary: Mapping[str, Any], source: str) -> str:
    contacts = _int(summary, "contacts")
    backfill = _mapping(summary, "coverage_backfill")
    partial = _int(backfill, "imported_partial")
    parts = [f"{_plural(contacts, 'contact')} imported"]
    if partial:
        parts[0] += f" ({number(partial)} only known through relationships)"
    recovered = _int(backfill, "imported_full")
    if recovered and source == "monica_api":
        parts.append(f"{number(recovered)} recovered that Monica's listing skipped")
    if _int(summary, "merged"):
        parts.append(f"{_plural(_int(summary, 'merged'), 'duplicate')} merged")
    notes = _int(summary, "notes")
    if notes or source == "monica_api":
        parts.append(_plural(notes, "note"))
    relationships = _int(summary, "relationships")
    if relationships:
        parts.append(_plural(relationships, "relationship"))
    return ", ".join(parts)


def _misc_sentence(misc: Mapping[str, Any]) -> str | None:
    parts = [f"{number(_int(misc, key))} {label}" for key, label in MISC_KINDS if _int(misc, key)]
    if _int(misc, "messages"):
        parts.append(f"{number(_int(misc, 'messages'))} messages in the conversations")
    return ", ".join(parts) if parts else None


def _media_sentence(sync: Mapping[str, Any]) -> str | None:
    documents = _mapping(sync, "documents")
    photos = _int(sync, "synced") + _int(sync, "duplicate")
    files = _int(documents, "synced") + _int(documents, "duplicate")
    if not (_int(sync, "total") or _int(documents, "total")):
        return None
    stored = f"{_plural(photos, 'photo')} and {_plural(files, 'document')} stored"
    recovered = _media_count(sync, "recovered")
    if recovered:
        stored += f", {recovered} recovered that Monica's listing skipped"
    return stored


def _media_count(sync: Mapping[str, Any], key: str) -> str | None:
    """'3 photos and 1 document' (only the kinds with some) of the sync summary's `key`."""
    photos, files = _int(sync, key), _int(_mapping(sync, "documents"), key)
    kinds = [_plural(n, kind) for n, kind in ((photos, "photo"), (files, "document")) if n]
    return " and ".join(kinds) or None


def _missing_sentences(
    summary: Mapping[str, Any], misc: Mapping[str, Any], sync: Mapping[str, Any]
) -> list[str]:
    lines = []
    gap = _int(_mapping(summary, "coverage_backfill"), "unresolved_gap")
    if gap:
        lines.append(
            f"{_plural(gap, 'contact')} Monica counted could not be found; "
            "they may have been deleted in Monica while the import ran."
        )
    missing = sum(int(n) for n in _mapping(misc, "missing").values() if isinstance(n, int))
    if missing:
        lines.append(f"{_plural(missing, 'item')} Monica counted were never returned by it.")
    media_missing = _media_count(sync, "missing")
    if media_missing:
        one = _int(sync, "missing") + _int(_mapping(sync, "documents"), "missing") == 1
        verb = "was" if one else "were"
        lines.append(f"{media_missing} Monica counted {verb} never returned by it.")
    skipped = _int(summary, "skipped")
    if skipped:
        lines.append(
            f"{_plural(skipped, 'contact')} you had deleted here were left deleted "
            "(restore them to take Monica's data)."
        )
    return lines


def _timing(item: Mapping[str, Any]) -> str | None:
    summary = _mapping(item, "summary")
    misc = _mapping(summary, "misc")
    sync = _mapping(item, "sync_summary")
    requests = (
        _int(summary, "requests")
        + _int(misc, "requests")
        + _int(sync, "requests")
        + _int(_mapping(sync, "documents"), "requests")
    )
    waited = (
        _float(summary, "rate_limit_wait_seconds")
        + _float(misc, "rate_limit_wait_seconds")
        + _float(sync, "rate_limit_wait_seconds")
    )
    elapsed = _elapsed(item)
    if not requests and elapsed is None:
        return None
    parts = []
    if requests:
        parts.append(f"{_plural(requests, 'request')} to Monica")
    if elapsed is not None:
        took = duration(elapsed)
        if waited >= 1:
            took += f", of which {duration(min(waited, elapsed))} waiting for Monica's rate limit"
        parts.append(took)
    return ", ".join(parts)


def _elapsed(item: Mapping[str, Any]) -> float | None:
    start = _when(item.get("started_at") or item.get("created_at"))
    end = _when(item.get("finished_at"))
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _steps(item: Mapping[str, Any]) -> tuple[Step, ...]:
    status = str(item.get("status") or "pending")
    phase = _mapping(item, "progress").get("phase")
    options = _mapping(item, "options")
    if item.get("source") == "vcard":
        crawl: list[tuple[str, str, tuple[str, ...]]] = [("vcard", "Reading the file", ("vcard",))]
    else:
        crawl = list(CRAWL_STEPS)
    at = next((i for i, (_, _, phases) in enumerate(crawl) if phase in phases), None)
    steps = [
        Step(key, label, _crawl_state(status, i, at)) for i, (key, label, _) in enumerate(crawl)
    ]
    if item.get("source") != "vcard":
        steps.append(Step("misc", "Calls, tasks and more", _later(status, item.get("misc_status"))))
        media_on = bool(options.get("photos") or options.get("documents"))
        media = _later(status, item.get("media_status")) if media_on else "skipped"
        steps.append(Step("media", "Photos and documents", media))
    return tuple(steps)


def _crawl_state(status: str, index: int, at: int | None) -> StepState:
    """The state of crawl step `index` when the import's last reported phase is step `at`."""
    if status == "completed":
        return "done"
    running = status in RUNNING
    if at is None or index > at:
        return "waiting" if running else "skipped"
    if index < at:
        return "done"
    if status == "failed":
        return "failed"
    return "current" if running else "skipped"


def _later(crawl_status: str, status: Any) -> StepState:
    """The state of a phase that starts after the crawl completed (misc, media)."""
    if status in ("completed",):
        return "done"
    if status == "failed":
        return "failed"
    if status in ("processing", "running", "cancelling"):
        return "current"
    if status == "cancelled" or crawl_status in ("failed", "cancelled"):
        return "skipped"
    return "waiting"


def _kinds(summary: Mapping[str, Any]) -> tuple[KindCount, ...]:
    misc = _mapping(summary, "misc")
    counts = [
        KindCount("contacts", "Contacts", _int(summary, "contacts")),
        KindCount("notes", "Notes", _int(summary, "notes")),
        KindCount("relationships", "Relationships", _int(summary, "relationships")),
    ]
    counts += [KindCount(key, label.capitalize(), _int(misc, key)) for key, label in MISC_KINDS]
    return tuple(kind for kind in counts if kind.count)


def _media_groups(sync: Mapping[str, Any]) -> tuple[MediaGroup, ...]:
    entries = sync.get("entries")
    if not isinstance(entries, Sequence):
        return ()
    grouped: Counter[tuple[str, str]] = Counter()
    details: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("status") == "synced":
            continue
        reason = str(entry.get("reason") or entry.get("status") or "failed")
        key = (str(entry.get("kind") or "photo"), reason)
        grouped[key] += 1
        where = entry.get("monica_contact_id")
        what = str(entry.get("message") or MEDIA_REASONS.get(reason, reason))
        details.setdefault(key, []).append(
            f"{key[0]} {entry.get('monica_id') or entry.get('uuid') or '?'}"
            + (f" of Monica contact {where}" if where else "")
            + f": {what}"
        )
    groups = []
    for (kind, reason), count in grouped.most_common():
        label = MEDIA_REASONS.get(reason, reason.replace("_", " "))
        groups.append(MediaGroup(kind, label, count, tuple(details[kind, reason])))
    return tuple(groups)


def _advice(item: Mapping[str, Any], errors: Sequence[str]) -> tuple[str, ...]:
    advice = []
    status = item.get("status")
    if status == "failed":
        advice.append(
            "Start the import again: what was already imported is kept and updated, "
            "nothing is duplicated."
        )
    if errors and status == "completed":
        advice.append(
            "The contacts listed were skipped; fix them in Monica (or ignore them) and import "
            "again to take the rest."
        )
    if item.get("media_status") == "failed":
        advice.append("Retry photos and documents with your Monica API key.")
    return tuple(advice)


def _eta(progress: Mapping[str, Any]) -> str | None:
    return eta_text(progress) or None  # the CLI's and the console's one wording


def report(item: Mapping[str, Any]) -> Report:
    """Read one import (the JSON of `GET /v1/imports/{id}`) in plain language."""
    summary = _mapping(item, "summary")
    misc = _mapping(summary, "misc")
    sync = _mapping(item, "sync_summary")
    source = str(item.get("source") or "monica_api")
    lines = [
        line for line in (_misc_sentence(misc), _media_sentence(sync)) if line is not None
    ] + _missing_sentences(summary, misc, sync)
    errors = [str(e) for e in (summary.get("errors") or []) if isinstance(e, str)]
    errors += [str(e) for e in (misc.get("errors") or []) if isinstance(e, str)]
    progress = _mapping(item, "progress")
    current, total = progress.get("current"), progress.get("total")
    if isinstance(current, int) and isinstance(total, int):
        current = min(current, total)  # a count that overshoots its estimate reads as done
    running = item.get("status") in RUNNING
    return Report(
        headline=_contacts_sentence(summary, source),
        lines=tuple(lines),
        timing=_timing(item),
        steps=_steps(item),
        kinds=_kinds(summary),
        errors=tuple(errors),
        media=_media_groups(sync),
        current=current if running and isinstance(current, int) else None,
        total=total if running and isinstance(total, int) else None,
        phase=str(progress.get("phase")) if running and progress.get("phase") else None,
        eta=_eta(progress) if running else None,
        advice=_advice(item, errors),
    )
