"""Writing one page of misc items (importer.md §8): resolve contacts, upsert, count.

Domain code: takes the open session and plain values, never commits. Each item is upserted by
(type, Monica id) through `import_records`, so a re-run or a resumed page never duplicates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from kith_importer.misc import queries
from kith_importer.misc.mappers import Mapped, MiscType, map_item
from kith_importer.parsing import as_dict, as_int
from kith_importer.queries import record_many

__all__ = ["MAX_ERRORS", "MiscScope", "Tally", "apply_page"]

MAX_ERRORS: Final = 50
_LABELS: Final = {
    "pet": "Pet",
    "call": "Call",
    "activity": "Activity",
    "gift": "Gift",
    "debt": "Debt",
    "task": "Task",
    "reminder": "Reminder",
    "conversation": "Conversation",
    "life_event": "Life event",
    "journal_entry": "Journal entry",
}


@dataclass(frozen=True, slots=True)
class MiscScope:
    account_id: int
    import_id: int
    user_id: int | None
    source: str
    timezone: str
    today: dt.date


@dataclass
class Tally:
    """`summary.misc` under construction; plain JSON so it checkpoints as is."""

    counts: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = int(self.counts.get(name, 0)) + n

    def skip(self, reason: str) -> None:
        skipped = self.counts.setdefault("skipped", {})
        skipped[reason] = int(skipped.get(reason, 0)) + 1

    def error(self, message: str) -> None:
        self.add("error_count")
        errors = self.counts.setdefault("errors", [])
        if len(errors) < MAX_ERRORS:
            errors.append(message[:500])


async def apply_page(
    session: AsyncSession, scope: MiscScope, mtype: MiscType, items: list[Any], tally: Tally
) -> None:
    mapped: list[tuple[str, Mapped]] = []
    for raw in items:
        item = as_dict(raw)
        mid = as_int(item.get("id"))
        label = f"{_LABELS[mtype.entity]} {item.get('id')!s:.40}"
        if mid is None:
            tally.error(f"{label}: no usable id, skipped")
            continue
        out = map_item(mtype.entity, item, tz=scope.timezone, today=scope.today)
        for problem in out.problems.items:
            tally.error(f"{label}: {problem}")
        if out.skip is not None:
            tally.error(f"{label}: {out.skip}, skipped")
            continue
        mapped.append((str(mid), out))
    wanted = [c for _, out in mapped for c in out.contacts]
    resolved = await queries.resolve_contacts(session, scope.account_id, scope.source, wanted)
    await _WRITERS.get(mtype.entity, _write_simple)(session, scope, mtype, mapped, resolved, tally)


def _contact(out: Mapped, resolved: dict[int, int | str], tally: Tally) -> int | None:
    """The item's local contact, or None after counting the skip reason."""
    if not out.contacts:
        tally.skip("no_contact")
        return None
    local = resolved.get(out.contacts[0], "contact_not_found")
    if isinstance(local, str):
        tally.skip(local)
        return None
    return local


def _owned_rows(
    scope: MiscScope,
    mapped: list[tuple[str, Mapped]],
    resolved: dict[int, int | str],
    tally: Tally,
) -> dict[str, dict[str, Any]]:
    """Rows of items that belong to one imported contact, created by the importing user;
    an item whose contact is missing is counted as skipped and left out."""
    rows: dict[str, dict[str, Any]] = {}
    for key, out in mapped:
        contact = _contact(out, resolved, tally)
        if contact is not None:
            rows[key] = {**out.values, "contact_id": contact, "creator_id": scope.user_id}
    return rows


async def _upsert(
    session: AsyncSession, scope: MiscScope, entity: str, rows: dict[str, dict[str, Any]]
) -> dict[str, int]:
    return await queries.upsert_rows(
        session,
        account_id=scope.account_id,
        import_id=scope.import_id,
        source=scope.source,
        entity=entity,
        rows=rows,
    )


async def _write_simple(
    session: AsyncSession,
    scope: MiscScope,
    mtype: MiscType,
    mapped: list[tuple[str, Mapped]],
    resolved: dict[int, int | str],
    tally: Tally,
) -> None:
    rows: dict[str, dict[str, Any]] = {}
    for key, out in mapped:
        values = dict(out.values)
        if mtype.entity == "journal_entry":
            values["author_id"] = scope.user_id
        elif mtype.entity == "task" and not out.contacts:
            values["contact_id"] = None  # an account-level task (importer.md §8)
        else:
            contact = _contact(out, resolved, tally)
            if contact is None:
                continue
            values["contact_id"] = contact
        if mtype.entity in ("call", "gift", "debt", "task"):
            values["creator_id"] = scope.user_id
        if mtype.entity == "life_event":
            type_name, category = values.pop("type_name"), values.pop("category")
            values["life_event_type_id"] = await queries.life_event_type(
                session, scope.account_id, type_name, category
            )
            values["creator_id"] = scope.user_id
        rows[key] = values
    written = await _upsert(session, scope, mtype.entity, rows)
    tally.add(mtype.count, len(written))


async def _write_activities(
    session: AsyncSession,
    scope: MiscScope,
    mtype: MiscType,
    mapped: list[tuple[str, Mapped]],
    resolved: dict[int, int | str],
    tally: Tally,
) -> None:
    rows: dict[str, dict[str, Any]] = {}
    attendees: dict[str, list[int]] = {}
    for key, out in mapped:
        if not out.contacts:
            tally.skip("no_contact")
            continue
        local = [v for c in out.contacts if isinstance(v := resolved.get(c), int)]
        if not local:  # none of the attendees was imported: the activity has no one to show
            reason = next((v for c in out.contacts if isinstance(v := resolved.get(c), str)), None)
            tally.skip(reason or "contact_not_found")
            continue
        rows[key] = {**out.values, "creator_id": scope.user_id}
        attendees[key] = local
    written = await _upsert(session, scope, "activity", rows)
    links = [(written[k], c) for k, cs in attendees.items() for c in cs]
    await queries.link_attendees(session, scope.account_id, links)
    tally.add(mtype.count, len(written))


async def _write_reminders(
    session: AsyncSession,
    scope: MiscScope,
    mtype: MiscType,
    mapped: list[tuple[str, Mapped]],
    resolved: dict[int, int | str],
    tally: Tally,
) -> None:
    rows = _owned_rows(scope, mapped, resolved, tally)
    owners = {key: int(values["contact_id"]) for key, values in rows.items()}
    for key, out in mapped:
        if key in rows and out.reminder.get("approximated"):
            tally.add("reminders_approximated")
    days = await queries.birthdays(session, scope.account_id, owners.values())
    births: dict[str, int] = {}
    for key, out in mapped:
        if key not in rows or out.reminder.get("delible", True):
            continue
        birthday, start = days.get(owners[key]), out.reminder["start"]
        if birthday is None or (birthday.month, birthday.day) != (start.month, start.day):
            continue
        # Monica's automatic birthday reminder becomes Kith's (one per contact).
        values = rows.pop(key)
        local = await queries.insert_birthday(
            session,
            account_id=scope.account_id,
            contact_id=owners[key],
            values={
                "type": "birthday",
                "title": values["title"],
                "frequency": None,
                "next_reminder_on": _next_birthday(birthday, scope.today),
                "creator_id": scope.user_id,
            },
        )
        if local is not None:
            births[key] = local
    written = await _upsert(session, scope, "reminder", rows)
    if births:
        await record_many(
            session,
            account_id=scope.account_id,
            import_id=scope.import_id,
            source=scope.source,
            rows=[("reminder", k, "reminders", v) for k, v in births.items()],
        )
    tally.add(mtype.count, len(written) + len(births))


def _next_birthday(birthday: dt.date, today: dt.date) -> dt.date:
    for year in (today.year, today.year + 1, today.year + 2):
        try:
            day = birthday.replace(year=year)
        except ValueError:  # 29 February
            day = dt.date(year, 3, 1)
        if day >= today:
            return day
    return today


async def _write_conversations(
    session: AsyncSession,
    scope: MiscScope,
    mtype: MiscType,
    mapped: list[tuple[str, Mapped]],
    resolved: dict[int, int | str],
    tally: Tally,
) -> None:
    rows = _owned_rows(scope, mapped, resolved, tally)
    written = await _upsert(session, scope, "conversation", rows)
    tally.add(mtype.count, len(written))
    messages: dict[str, dict[str, Any]] = {}
    for key, out in mapped:
        if key not in rows:
            continue
        for message in out.messages:
            label = f"Message {message['key']} of conversation {key}"
            for problem in message["problems"]:
                tally.error(f"{label}: {problem}")
            if not message["body"] or message["sent_at"] is None:
                tally.error(f"{label}: no text or no date, skipped")
                continue
            messages[message["key"]] = {
                "conversation_id": written[key],
                "body": message["body"],
                "direction": message["direction"],
                "sent_at": message["sent_at"],
            }
    stored = await _upsert(session, scope, "message", messages)
    tally.add("messages", len(stored))


_WRITERS: Final = {
    "activity": _write_activities,
    "reminder": _write_reminders,
    "conversation": _write_conversations,
}
