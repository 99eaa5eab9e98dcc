"""One Monica contact → one Kith contact (importer.md §7.2), found again through import_records.

- record → live contact: scalars overwritten (nulls included) unless a merge led here, in which
  case the survivor keeps its own; children (fields, addresses, tags) added without duplicates;
- record → soft-deleted contact: skipped, untouched;
- record → row gone (purged): created again and re-mapped, once;
- no record: created and recorded.

Field values and match keys come from `kith_common.contact_fields.prepare` only. Deferred parts
(first_met_through, relationships, statistics) are returned for the caller to stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.contact_fields import EmptyFieldValue, prepare, prepare_address
from kith_common.db.models import Contact
from kith_common.merge import display_name
from kith_importer import queries
from kith_importer.parsing import (
    MAX_LONG_TEXT,
    Problems,
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_text,
    special_date,
)
from kith_importer.reference import ReferenceMap
from kith_importer.writes import StepWrite

__all__ = [
    "CrawlScope",
    "Outcome",
    "Planned",
    "contact_label",
    "create_partial",
    "import_contact",
    "import_contacts",
    "plan_contacts",
]


@dataclass(frozen=True, slots=True)
class CrawlScope:
    """What every write of one import needs."""

    account_id: int
    import_id: int
    user_id: int | None
    source: str  # monica_api:<instance>
    region: str | None


@dataclass
class Outcome:
    local_id: int | None = None
    created: bool = False
    updated: bool = False
    skipped: bool = False
    errors: list[str] = field(default_factory=list)
    deferred: dict[str, Any] = field(default_factory=dict)


def contact_label(data: dict[str, Any]) -> str:
    name = " ".join(
        str(p) for p in (data.get("first_name"), data.get("last_name")) if isinstance(p, str) and p
    )
    mid = data.get("id")
    return f"Contact {mid} ({name})" if name else f"Contact {mid}"


async def _scalars(
    session: AsyncSession, refmap: ReferenceMap, data: dict[str, Any], problems: Problems
) -> dict[str, Any]:
    info = as_dict(data.get("information"))
    dates = as_dict(info.get("dates"))
    career = as_dict(info.get("career"))
    met = as_dict(info.get("how_you_met"))
    first = as_text(data.get("first_name"), "first_name", problems)
    last = as_text(data.get("last_name"), "last_name", problems)
    nickname = as_text(data.get("nickname"), "nickname", problems)
    complete = as_text(data.get("complete_name"), "complete_name", problems)
    first_name = first or complete or nickname or "Unknown"
    birth = special_date(dates.get("birthdate"), "birthdate", problems)
    deceased = special_date(dates.get("deceased_date"), "deceased_date", problems)
    first_met = special_date(met.get("first_met_date"), "first_met_date", problems)
    gender_name = as_text(data.get("gender"), "gender", problems)
    gender_type = data.get("gender_type") if isinstance(data.get("gender_type"), str) else None
    return {
        "first_name": first_name,
        "last_name": last,
        "nickname": nickname,
        "display_name": display_name(first_name, last, nickname),
        "description": as_text(
            data.get("description"), "description", problems, limit=MAX_LONG_TEXT
        ),
        "company": as_text(career.get("company"), "career.company", problems),
        "job_title": as_text(career.get("job"), "career.job", problems),
        "favorite": as_bool(data.get("is_starred"), "is_starred", problems),
        "deceased": as_bool(data.get("is_dead"), "is_dead", problems),
        "deceased_on": deceased.date,
        "birthdate": None if birth.age_based else birth.date,
        "birthdate_year_unknown": bool(birth.date and birth.year_unknown and not birth.age_based),
        "first_met_at": None if first_met.age_based else first_met.date,
        "first_met_year_unknown": bool(first_met.date and first_met.year_unknown),
        "first_met_additional_info": as_text(
            met.get("general_information"),
            "how_you_met.general_information",
            problems,
            limit=MAX_LONG_TEXT,
        ),
        "gender_id": await refmap.gender(session, gender_name, gender_type),
        "is_partial": data.get("is_partial") is True,
    }


async def import_contact(
    session: AsyncSession, scope: CrawlScope, refmap: ReferenceMap, data: dict[str, Any]
) -> Outcome:
    """Create or update the contact for one Monica contact object (full or partial)."""
    return (await import_contacts(session, scope, refmap, [data]))[0]


async def import_contacts(
    session: AsyncSession, scope: CrawlScope, refmap: ReferenceMap, batch: list[dict[str, Any]]
) -> list[Outcome]:
    """`import_contact` for a chunk: `plan_contacts`, then its one write."""
    planned = await plan_contacts(session, scope, refmap, batch)
    await planned.execute(session, scope)
    return planned.outcomes


@dataclass
class _Item:
    data: dict[str, Any]
    mid: int
    label: str
    problems: Problems
    values: dict[str, Any]
    outcome: Outcome
    contact: Contact | None = None
    followed: bool = False
    new_index: int | None = None  # position among the step's new contacts

    @property
    def owner(self) -> tuple[int | None, int | None]:
        """How children name this contact in the step's write (see `StepWrite`)."""
        if self.new_index is not None:
            return None, self.new_index
        assert self.contact is not None
        return self.contact.id, None


@dataclass
class Planned:
    """A chunk's outcomes and the one write that makes them true (local ids come with it)."""

    outcomes: list[Outcome]
    write: StepWrite
    created: list[_Item]

    async def execute(self, session: AsyncSession, scope: CrawlScope) -> None:
        ids = await self.write.execute(
            session, account_id=scope.account_id, import_id=scope.import_id, source=scope.source
        )
        for item, local_id in zip(self.created, ids, strict=True):
            item.outcome.local_id = local_id


async def plan_contacts(
    session: AsyncSession,
    scope: CrawlScope,
    refmap: ReferenceMap,
    batch: list[dict[str, Any]],
    write: StepWrite | None = None,
) -> Planned:
    """Decide what a chunk of Monica contacts does, reading with at most four statements.

    Lookups are done for the whole chunk at once; updates of existing contacts go through the
    ORM (flushed with the next statement), new rows into `write` (the caller may add its own
    rows to it before `Planned.execute`). The rules are those of the module docstring.
    """
    write = write if write is not None else StepWrite()
    outcomes: list[Outcome] = []
    items: list[_Item] = []
    for data in batch:
        outcome = Outcome()
        outcomes.append(outcome)
        mid = as_int(data.get("id"))
        label = contact_label(data)
        if mid is None:
            outcome.errors.append(f"{label}: no valid id, skipped")
            continue
        problems = Problems()
        values = await _scalars(session, refmap, data, problems)
        items.append(_Item(data, mid, label, problems, values, outcome))
    planned = Planned(outcomes, write, [])
    if not items:
        return planned
    known = await queries.mapped_many(
        session, scope.account_id, scope.source, "contact", [str(i.mid) for i in items]
    )
    existing = await queries.contacts_by_id(session, scope.account_id, list(known.values()))
    fresh: list[_Item] = []
    for item in items:
        local = known.get(str(item.mid))
        contact = existing.get(local) if local is not None else None
        if contact is not None and contact.merged_into_id is not None:
            contact, _ = await queries.resolve_contact(session, scope.account_id, contact.id)
            item.followed = contact is not None
        if contact is not None and contact.deleted_at is not None:
            item.outcome.skipped = True
            item.outcome.local_id = contact.id
            continue
        if contact is None:
            item.followed = False
            item.new_index = write.add_contact(item.values, str(item.mid))
            item.outcome.created = True
            planned.created.append(item)
        else:
            if not item.followed:
                for name, value in item.values.items():
                    setattr(contact, name, value)
                # Upserted (moving the mapping to this import), except when a merge led here:
                # the record keeps naming the loser, so the survivor's scalars stay the
                # earliest's.
                write.record("contact", str(item.mid), "contact", contact.id)
            item.contact = contact
            item.outcome.updated = True
            item.outcome.local_id = contact.id
        fresh.append(item)
    children = _Children()
    old = [i.contact.id for i in fresh if i.contact is not None and not i.values["is_partial"]]
    if old:  # new contacts have no children yet: nothing to read for them
        children.fields = await queries.field_keys(session, scope.account_id, old)
        children.addresses = await queries.address_keys(session, scope.account_id, old)
    for item in fresh:
        if not item.values["is_partial"]:
            await _fields(session, scope, refmap, item, children, write)
            _addresses(item, children, write)
            await _tags(refmap, session, item, write)
            item.outcome.deferred = _deferred(item.data)
    for item in items:
        item.outcome.errors.extend(f"{item.label}: {p}" for p in item.problems.items)
    return planned


@dataclass
class _Children:
    """Existing children's keys per contact (local id, or new index as a negative number)."""

    fields: dict[int, set[tuple[int, str]]] = field(default_factory=dict)
    addresses: dict[int, set[tuple[str, str, str]]] = field(default_factory=dict)


def _children_key(item: _Item) -> int:
    local, index = item.owner
    return local if local is not None else -1 - (index or 0)


async def create_partial(
    session: AsyncSession, scope: CrawlScope, refmap: ReferenceMap, short: dict[str, Any]
) -> Outcome:
    """A partial from the ContactShort that references it (API §11.2): no request needed."""
    data = dict(short)
    data["is_partial"] = True
    return await import_contact(session, scope, refmap, data)


def _deferred(data: dict[str, Any]) -> dict[str, Any]:
    info = as_dict(data.get("information"))
    met = as_dict(info.get("how_you_met"))
    relations = []
    for group in as_dict(info.get("relationships")).values():
        for entry in as_list(as_dict(group).get("contacts")):
            entry = as_dict(entry)
            slug = as_dict(entry.get("relationship")).get("name")
            other = as_dict(entry.get("contact"))
            if isinstance(slug, str) and as_int(other.get("id")) is not None:
                relations.append({"slug": slug, "contact": _short(other)})
    through = as_dict(met.get("first_met_through_contact"))
    return {
        "first_met_through": _short(through) if as_int(through.get("id")) is not None else None,
        "relationships": relations,
        "statistics": as_dict(data.get("statistics")),
        "label": contact_label(data),
    }


def _short(short: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "id",
        "first_name",
        "last_name",
        "nickname",
        "complete_name",
        "gender",
        "gender_type",
        "is_partial",
        "is_active",
        "is_dead",
        "is_starred",
    )
    return {k: short.get(k) for k in keep}


async def _fields(
    session: AsyncSession,
    scope: CrawlScope,
    refmap: ReferenceMap,
    item: _Item,
    children: _Children,
    write: StepWrite,
) -> None:
    raw_fields = item.data.get("contactFields")
    problems = item.problems
    if raw_fields is None:
        return
    if not isinstance(raw_fields, list):
        problems.add("contactFields", "not a list")
        return
    existing = children.fields.setdefault(_children_key(item), set())
    for raw in raw_fields:
        entry = as_dict(raw)
        ftype = await refmap.field_type(session, as_dict(entry.get("contact_field_type")))
        content = as_text(entry.get("content"), "contactFields.content", problems)
        if ftype is None or content is None:
            continue
        type_id, kind = ftype
        try:
            prepared = prepare(kind, content, scope.region)
        except EmptyFieldValue:
            continue
        if (type_id, prepared.value.lower()) in existing:
            continue
        existing.add((type_id, prepared.value.lower()))
        labels = [as_dict(x).get("label") for x in as_list(entry.get("labels"))]
        label = next((x for x in labels if isinstance(x, str) and x), None)
        write.add_field(
            item.owner,
            {
                "type_id": type_id,
                "value": prepared.value,
                "label": label,
                "match_key": prepared.match_key,
                "sid": str(entry.get("uuid") or entry.get("id")),
            },
        )


def _norm(value: str | None) -> str:
    return " ".join((value or "").split()).lower()


def _addresses(item: _Item, children: _Children, write: StepWrite) -> None:
    raw = item.data.get("addresses")
    problems = item.problems
    if raw is None:
        return
    if not isinstance(raw, list):
        problems.add("addresses", "not a list")
        return
    existing = children.addresses.setdefault(_children_key(item), set())
    for entry in raw:
        entry = as_dict(entry)
        line1 = as_text(entry.get("street"), "addresses.street", problems)
        city = as_text(entry.get("city"), "addresses.city", problems)
        country = as_text(as_dict(entry.get("country")).get("name"), "addresses.country", problems)
        key = (_norm(line1), _norm(city), _norm(country))
        if key in existing or key == ("", "", ""):
            continue
        existing.add(key)
        postal = as_text(entry.get("postal_code"), "addresses.postal_code", problems)
        write.add_address(
            item.owner,
            {
                "label": as_text(entry.get("name"), "addresses.name", problems),
                "line1": line1,
                "city": city,
                "province": as_text(entry.get("province"), "addresses.province", problems),
                "postal_code": postal,
                "country": country,
                "latitude": _coordinate(entry.get("latitude")),
                "longitude": _coordinate(entry.get("longitude")),
                "match_key": prepare_address(line1, postal),
                "sid": str(entry.get("uuid") or entry.get("id")),
            },
        )


def _coordinate(value: Any) -> float | None:
    """A finite number (json.loads accepts NaN and Infinity, which jsonb refuses)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


async def _tags(refmap: ReferenceMap, session: AsyncSession, item: _Item, write: StepWrite) -> None:
    for entry in as_list(item.data.get("tags")):
        name = as_text(as_dict(entry).get("name"), "tags.name", item.problems)
        if name:
            write.add_tag(item.owner, await refmap.tag(session, name))
