"""Monica misc items (API §10, the fields Monica really sends) → Kith column values.

Pure functions: each returns a `Mapped` (values for the Kith row, the Monica contact ids the
item links to, field problems) or None when the item cannot be imported (`Mapped.skip` names
why). The original read fields Monica never sends (`is_for`, `next_expected_date`,
`duration`, `subject`, debt status `complete`); importer.md §8 lists the right ones.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from dateutil.relativedelta import relativedelta

from kith_importer.parsing import (
    MAX_LONG_TEXT,
    Problems,
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_text,
    parse_date,
    parse_timestamp,
)

__all__ = [
    "MISC_TYPES",
    "Mapped",
    "MiscType",
    "frequency_of",
    "map_item",
    "next_on_or_after",
    "platform_of",
]

SPECIES: Final = frozenset({"dog", "cat", "bird", "fish", "reptile", "rabbit", "hamster"})


@dataclass(frozen=True, slots=True)
class MiscType:
    """One misc type: its option, Monica endpoint, record entity type and summary count."""

    option: str
    endpoint: str
    entity: str
    count: str
    per_contact: bool  # importer.md §8 shortfall: re-fetched per contact


MISC_TYPES: Final = (
    MiscType("pets", "/pets", "pet", "pets", False),
    MiscType("calls", "/calls", "call", "calls", True),
    MiscType("activities", "/activities", "activity", "activities", True),
    MiscType("gifts", "/gifts", "gift", "gifts", True),
    MiscType("debts", "/debts", "debt", "debts", True),
    MiscType("tasks", "/tasks", "task", "tasks", True),
    MiscType("reminders", "/reminders", "reminder", "reminders", True),
    MiscType("conversations", "/conversations", "conversation", "conversations", False),
    MiscType("life_events", "/lifeevents", "life_event", "life_events", False),
    MiscType("journal_entries", "/journal", "journal_entry", "journal_entries", False),
)


@dataclass
class Mapped:
    values: dict[str, Any] = field(default_factory=dict)
    contacts: list[int] = field(default_factory=list)  # Monica ids; activities: attendees
    problems: Problems = field(default_factory=Problems)
    skip: str | None = None  # a readable reason: the item is not imported
    messages: list[dict[str, Any]] = field(default_factory=list)  # conversations only
    reminder: dict[str, Any] = field(default_factory=dict)  # reminders: raw schedule


def _contact_id(item: dict[str, Any]) -> list[int]:
    ref = item.get("contact")
    cid = as_int(as_dict(ref).get("id")) if isinstance(ref, dict) else as_int(ref)
    return [cid] if cid is not None else []


def _amount(value: Any, problems: Problems) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        problems.add("amount", "not a number")
        return None
    if not amount.is_finite() or abs(amount) >= Decimal("1e10"):
        problems.add("amount", "out of range")
        return None
    return amount.quantize(Decimal("0.01"))


def platform_of(type_name: str | None) -> str:
    """The conversation platform from keywords in Monica's contact field type name."""
    name = (type_name or "").lower()
    for keywords, platform in (
        (("whatsapp",), "whatsapp"),
        (("telegram",), "telegram"),
        (("signal",), "signal"),
        (("instagram",), "instagram"),
        (("messenger", "facebook"), "messenger"),
        (("email", "e-mail", "mail"), "email"),
        (("sms", "text", "phone"), "sms"),
    ):
        if any(k in name for k in keywords):
            return platform
    return "other"


_PERIODS: Final = {  # Kith frequency → its period
    "weekly": relativedelta(weeks=1),
    "biweekly": relativedelta(weeks=2),
    "monthly": relativedelta(months=1),
    "3months": relativedelta(months=3),
    "6months": relativedelta(months=6),
    "annually": relativedelta(years=1),
}
_DAYS: Final = {
    "weekly": 7,
    "biweekly": 14,
    "monthly": 30,
    "3months": 91,
    "6months": 182,
    "annually": 365,
}
_UNIT_DAYS: Final = {"week": 7, "month": 30.4375, "year": 365.25}


def frequency_of(unit: str, number: int) -> tuple[str | None, bool]:
    """Monica's `frequency_type` × `frequency_number` → (Kith frequency, approximated)."""
    exact = {
        ("week", 1): "weekly",
        ("week", 2): "biweekly",
        ("month", 1): "monthly",
        ("month", 3): "3months",
        ("month", 6): "6months",
        ("month", 12): "annually",
        ("year", 1): "annually",
    }
    if (unit, number) in exact:
        return exact[(unit, number)], False
    if unit not in _UNIT_DAYS or number < 1:
        return None, False
    days = _UNIT_DAYS[unit] * number
    nearest = min(_DAYS, key=lambda f: abs(_DAYS[f] - days))
    return nearest, True


def next_on_or_after(start: dt.date, frequency: str, today: dt.date) -> dt.date:
    """The first `start + k·period` (k ≥ 0) that is not before today."""
    period = _PERIODS[frequency]
    if start >= today:
        return start
    # Jump close first so a 1990 weekly reminder does not loop thousands of times.
    approx = max(0, (today - start).days // _DAYS[frequency] - 1)
    k = approx
    while start + period * k < today:
        k += 1
    moved: dt.date = start + period * k
    return moved


def map_item(kind: str, item: dict[str, Any], *, tz: str, today: dt.date) -> Mapped:
    return _MAPPERS[kind](item, tz, today)


def _pet(item: dict[str, Any], _tz: str, _today: dt.date) -> Mapped:
    out = Mapped(contacts=_contact_id(item))
    category = as_text(as_dict(item.get("pet_category")).get("name"), "pet_category", out.problems)
    species = (category or "").lower()
    out.values = {
        "name": as_text(item.get("name"), "name", out.problems) or "Pet",
        "species": species if species in SPECIES else "other",
    }
    return out


def _call(item: dict[str, Any], _tz: str, _today: dt.date) -> Mapped:
    out = Mapped(contacts=_contact_id(item))
    when = parse_timestamp(item.get("called_at"))
    if when is None:
        out.skip = "called_at: missing or not a valid date"
        return out
    inbound = as_bool(item.get("contact_called"), "contact_called", out.problems)
    out.values = {
        "occurred_at": when,
        "notes": as_text(item.get("content"), "content", out.problems, limit=MAX_LONG_TEXT),
        "direction": "inbound" if inbound else "outbound",
        "duration_minutes": None,  # Monica has no duration (API §10)
    }
    return out


def _activity(item: dict[str, Any], tz: str, _today: dt.date) -> Mapped:
    out = Mapped()
    attendees = as_dict(item.get("attendees")).get("contacts")
    for short in as_list(attendees):
        cid = as_int(as_dict(short).get("id"))
        if cid is not None:
            out.contacts.append(cid)
    day = parse_date(item.get("happened_at"))
    if day is None:
        out.skip = "happened_at: missing or not a valid date"
        return out
    zone = _zone(tz)
    out.values = {
        "title": as_text(item.get("summary"), "summary", out.problems) or "Activity",
        "description": as_text(
            item.get("description"), "description", out.problems, limit=MAX_LONG_TEXT
        ),
        "occurred_at": dt.datetime.combine(day, dt.time(), zone),
    }
    return out


_GIFT_STATUS: Final = {
    "idea": ("given", "idea"),
    "offered": ("given", "given"),
    "received": ("received", "received"),
}


def _gift(item: dict[str, Any], _tz: str, _today: dt.date) -> Mapped:
    out = Mapped(contacts=_contact_id(item))
    raw = str(item.get("status") or "").lower()
    direction, status = _GIFT_STATUS.get(raw, ("given", "idea"))
    if raw not in _GIFT_STATUS:
        out.problems.add("status", f"unknown value {str(raw)[:20]!r}, kept as an idea")
    out.values = {
        "name": as_text(item.get("name"), "name", out.problems) or "Gift",
        "description": as_text(item.get("comment"), "comment", out.problems, limit=MAX_LONG_TEXT),
        "url": as_text(item.get("url"), "url", out.problems, limit=2000),
        "amount": _amount(item.get("amount"), out.problems),
        "occurred_on": parse_date(item.get("date")),
        "direction": direction,
        "status": status,
    }
    return out


def _debt(item: dict[str, Any], _tz: str, _today: dt.date) -> Mapped:
    out = Mapped(contacts=_contact_id(item))
    amount = _amount(item.get("amount"), out.problems)
    if amount is None or amount <= 0:
        out.skip = "amount: missing or not above zero"
        return out
    in_debt = str(item.get("in_debt") or "").lower()
    settled = str(item.get("status") or "").lower() in ("completed", "complete")
    out.values = {
        "title": as_text(item.get("reason"), "reason", out.problems) or "Debt",
        "amount": amount,
        "direction": "owed_by_me" if in_debt == "yes" else "owed_to_me",
        "status": "settled" if settled else "active",
    }
    return out


def _task(item: dict[str, Any], _tz: str, _today: dt.date) -> Mapped:
    out = Mapped(contacts=_contact_id(item))
    done = as_bool(item.get("completed"), "completed", out.problems)
    out.values = {
        "title": as_text(item.get("title"), "title", out.problems) or "Task",
        "description": as_text(
            item.get("description"), "description", out.problems, limit=MAX_LONG_TEXT
        ),
        "status": "completed" if done else "pending",
        "completed_at": parse_timestamp(item.get("completed_at")) if done else None,
    }
    return out


def _reminder(item: dict[str, Any], _tz: str, today: dt.date) -> Mapped:
    out = Mapped(contacts=_contact_id(item))
    start = parse_date(item.get("initial_date"))
    if start is None:
        out.skip = "initial_date: missing or not a valid date"
        return out
    title = as_text(item.get("title"), "title", out.problems)
    unit = str(item.get("frequency_type") or "one_time")
    number = as_int(item.get("frequency_number")) or 1
    out.reminder = {"start": start, "delible": item.get("delible") is not False}
    if unit == "one_time":
        out.values = {
            "type": "one_time",
            "title": title,
            "frequency": None,
            "next_reminder_on": start,
            "active": start >= today,
        }
        return out
    frequency, approximated = frequency_of(unit, number)
    if frequency is None:
        out.skip = f"frequency_type: unknown value {unit[:20]!r}"
        return out
    out.reminder["approximated"] = approximated
    out.values = {
        "type": "recurring",
        "title": title,
        "frequency": frequency,
        "next_reminder_on": next_on_or_after(start, frequency, today),
        "active": True,
    }
    return out


def _conversation(item: dict[str, Any], _tz: str, _today: dt.date) -> Mapped:
    out = Mapped(contacts=_contact_id(item))
    channel = as_dict(item.get("contact_field_type")).get("name")
    out.values = {
        "platform": platform_of(channel if isinstance(channel, str) else None),
        "subject": None,
    }
    happened = parse_timestamp(item.get("happened_at"))
    for index, raw in enumerate(as_list(item.get("messages"))):
        message = as_dict(raw)
        problems = Problems()
        body = as_text(message.get("content"), "content", problems, limit=MAX_LONG_TEXT)
        sent_at = parse_timestamp(message.get("written_at")) or happened
        mine = as_bool(message.get("written_by_me"), "written_by_me", problems)
        out.messages.append(
            {
                "key": str(as_int(message.get("id")) or f"{as_int(item.get('id'))}:{index}"),
                "body": body,
                "sent_at": sent_at,
                "direction": "sent" if mine else "received",
                "problems": problems.items,
            }
        )
    return out


def _life_event(item: dict[str, Any], _tz: str, _today: dt.date) -> Mapped:
    out = Mapped(contacts=_contact_id(item))
    day = parse_date(item.get("happened_at"))
    if day is None:
        out.skip = "happened_at: missing or not a valid date"
        return out
    kind = as_dict(item.get("life_event_type"))
    name = as_text(item.get("name"), "name", out.problems)
    note = as_text(item.get("note"), "note", out.problems, limit=MAX_LONG_TEXT)
    out.values = {
        "occurred_on": day,
        "note": "\n\n".join(p for p in (name, note) if p) or None,
        "type_name": as_text(kind.get("name"), "life_event_type", out.problems) or name or "Other",
        "category": as_dict(kind.get("life_event_category")).get("name"),
    }
    return out


def _journal(item: dict[str, Any], _tz: str, _today: dt.date) -> Mapped:
    out = Mapped()
    post = as_text(item.get("post"), "post", out.problems, limit=MAX_LONG_TEXT)
    when = parse_timestamp(item.get("date"))
    if post is None:
        out.skip = "post: empty"
        return out
    if when is None:
        out.skip = "date: missing or not a valid date"
        return out
    out.values = {
        "title": as_text(item.get("title"), "title", out.problems),
        "content": post,
        "occurred_at": when,
    }
    return out


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


_MAPPERS: Final = {
    "pet": _pet,
    "call": _call,
    "activity": _activity,
    "gift": _gift,
    "debt": _debt,
    "task": _task,
    "reminder": _reminder,
    "conversation": _conversation,
    "life_event": _life_event,
    "journal_entry": _journal,
}
