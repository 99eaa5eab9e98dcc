"""The one merge routine (dedup.md §5): plan, then apply the plan, in the caller's transaction.

`plan` reads both contacts and everything that points at them and decides, row by row, what
moves to the survivor and what is dropped as a duplicate; `apply` executes exactly that plan,
checking every statement's row count, in the order of §5.3. The preview is the plan without
the apply, so on the same data the preview is what the merge does.

Locks (§5.2): the account row FOR SHARE (the generation fence), then both contacts FOR
UPDATE in ascending id order, so two merges over a shared contact never deadlock; the loser's
lock blocks inserts of rows referencing it, so the plan stays true until commit. Nothing here
commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ColumnExpressionArgument,
    Select,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import fence
from kith_common.bus import outbox
from kith_common.db.models import (
    ActivityContact,
    Address,
    AuditLog,
    Call,
    Contact,
    ContactField,
    ContactMerge,
    ContactTag,
    Conversation,
    Debt,
    Document,
    DuplicateCandidate,
    Gift,
    ImportRecord,
    LifeEvent,
    Note,
    Pet,
    Photo,
    Relationship,
    Reminder,
    Task,
    User,
)
from kith_common.errors import InvalidInput, Transient
from kith_common.events.payloads.contacts import ContactsMerged, ContactsMergeFailed
from kith_common.events.registry import build_envelope
from kith_common.events.subjects import CONTACTS_MERGE_FAILED, CONTACTS_MERGED
from kith_common.merge.names import display_name
from kith_common.merge.report import (
    FIELD_CHOICE_FIELDS,
    MERGE_KINDS,
    MergeConflict,
    MergeReport,
    ReportContact,
    ReportField,
)

__all__ = [
    "MergePlanMismatch",
    "merge_contacts",
    "plan_merge",
    "preview_merge",
    "record_merge_failure",
]

log = structlog.get_logger(__name__)

# Tables whose loser rows all move (steps 2, 4–6, 13), by report kind.
_PLAIN_MOVES: dict[str, Any] = {
    "notes": Note,
    "calls": Call,
    "life_events": LifeEvent,
    "documents": Document,
    "conversations": Conversation,
    "gifts": Gift,
    "debts": Debt,
    "pets": Pet,
    "tasks": Task,
}
# Kinds that can drop rows; the report lists them even when nothing was dropped.
_DROP_KINDS = (
    "activities",
    "photos",
    "addresses",
    "contact_fields",
    "tags",
    "reminders",
    "relationships",
)
_ACTIVITY_COLUMNS = ("activity_id", "contact_id")
_PHOTO_COLUMNS = ("id", "contact_id", "content_hash", "storage_key")
_TAG_COLUMNS = ("tag_id", "contact_id")
_REMINDER_COLUMNS = ("id", "contact_id", "type")
_ADDRESS_COLUMNS = (
    "id",
    "contact_id",
    "line1",
    "line2",
    "city",
    "province",
    "postal_code",
    "country",
)
_FIELD_COLUMNS = ("id", "contact_id", "contact_field_type_id", "value", "match_key")
_RELATIONSHIP_COLUMNS = ("id", "contact_id", "related_contact_id", "relationship_type_id")
_CANDIDATE_COLUMNS = ("id", "contact_id", "duplicate_contact_id", "status")
_CONTACT_COLUMNS = (
    "id",
    "first_name",
    "middle_name",
    "last_name",
    "nickname",
    "display_name",
    "birthdate",
    "birthdate_year_unknown",
    "description",
    "job_title",
    "company",
    "avatar_photo_id",
    "first_met_through_id",
    "last_talked_to_at",
    "deleted_at",
    "merged_into_id",
)


class MergePlanMismatch(Transient):
    """A statement touched a different number of rows than planned; retry the whole merge."""

    code = "merge-plan-mismatch"


@dataclass(slots=True)
class _Plan:
    account_id: int
    survivor: dict[str, Any]
    loser: dict[str, Any]
    choices: dict[str, str]
    survivor_values: dict[str, Any] = field(default_factory=dict)
    fields: list[ReportField] = field(default_factory=list)
    # kind → keys (row ids; activity ids for activities, tag ids for tags)
    moves: dict[str, list[int]] = field(default_factory=dict)
    drops: dict[str, list[int]] = field(default_factory=dict)
    rel_out_moves: list[int] = field(default_factory=list)
    rel_in_moves: list[int] = field(default_factory=list)
    survivor_meets_loser: bool = False
    dropped_photo_keys: list[str] = field(default_factory=list)
    pair_candidate: int | None = None
    repoint: list[tuple[int, int, int]] = field(default_factory=list)  # (id, low, high)
    obsolete: list[int] = field(default_factory=list)

    @property
    def survivor_id(self) -> int:
        return int(self.survivor["id"])

    @property
    def loser_id(self) -> int:
        return int(self.loser["id"])

    def report(self) -> MergeReport:
        moved = {kind: len(self.moves.get(kind, ())) for kind in MERGE_KINDS}
        moved["relationships"] = len(self.rel_out_moves) + len(self.rel_in_moves)
        after = self.survivor_values.get("display_name", self.survivor["display_name"])
        return MergeReport(
            survivor=ReportContact(
                self.survivor_id, self.survivor["display_name"], display_name_after=after
            ),
            loser=ReportContact(self.loser_id, self.loser["display_name"]),
            fields=tuple(self.fields),
            moved=moved,
            dropped={kind: sorted(self.drops.get(kind, ())) for kind in _DROP_KINDS},
            candidates={
                "merged": [self.pair_candidate] if self.pair_candidate is not None else [],
                "repointed": sorted(r[0] for r in self.repoint),
                "obsoleted": sorted(self.obsolete),
            },
            dropped_photo_storage_keys=tuple(sorted(self.dropped_photo_keys)),
        )


# --- public API -----------------------------------------------------------------------------


async def preview_merge(
    session: AsyncSession,
    *,
    account_id: int,
    survivor_id: int,
    loser_id: int,
    field_choices: Mapping[str, str] | None = None,
    candidate_id: int | None = None,
) -> MergeReport:
    """What `merge_contacts` would do on the current data; writes and locks nothing.

    Safe in a read-only transaction (`POST /v1/merges/preview`).

    Raises:
        MergeConflict: same contact, not found (also another account's), not live.
        InvalidInput: an unknown field or choice in `field_choices`.
    """
    choices = _validated_choices(field_choices)
    contacts = await _read_contacts(session, account_id, survivor_id, loser_id, lock=False)
    plan = await _plan(session, account_id, contacts, choices, candidate_id)
    return plan.report()


plan_merge = preview_merge
"""dedup.md §5 calls the preview `plan_merge`."""


async def merge_contacts(
    session: AsyncSession,
    *,
    account_id: int,
    survivor_id: int,
    loser_id: int,
    field_choices: Mapping[str, str] | None = None,
    source: str,
    merge_id: uuid.UUID | None = None,
    import_id: int | None = None,
    requested_by_id: int | None = None,
    candidate_id: int | None = None,
    generation: int | None = None,
    correlation_id: uuid.UUID | None = None,
) -> MergeReport:
    """Merge `loser_id` into `survivor_id` in the caller's transaction (dedup.md §5.3).

    Holds the generation fence, locks both contacts (ascending ids), plans, applies every
    step, writes the audit entry and the contact_merges row, and queues
    `kith.evt.contacts.merged` in the outbox. Never commits.

    Args:
        source: `api` (the dedup handler) or `auto_merge` (the importer).
        merge_id: the command's envelope id; a new uuid when None (auto-merge).
        requested_by_id: the actor (audit `user_id`); for auto-merge the import's user.
        generation: the generation the work was produced under (None: current).

    Raises:
        MergeConflict: refused (same contact, not found, not live, already merged,
            candidate of another pair); nothing was written.
        InvalidInput: an unknown field or choice.
        StaleGeneration: the account was reset since `generation`.
        MergePlanMismatch: the data moved under the plan (retry).
    """
    choices = _validated_choices(field_choices)
    merge_id = merge_id or uuid.uuid4()
    current_generation = await fence.hold(session, account_id, generation)
    contacts = await _read_contacts(session, account_id, survivor_id, loser_id, lock=True)
    plan = await _plan(session, account_id, contacts, choices, candidate_id)
    await _apply(session, plan, requested_by_id)
    report = plan.report()
    await _record(
        session,
        plan,
        report,
        merge_id=merge_id,
        source=source,
        import_id=import_id,
        requested_by_id=requested_by_id,
        generation=current_generation,
        correlation_id=correlation_id,
    )
    log.info(
        "contacts_merged",
        merge_id=str(merge_id),
        survivor_id=survivor_id,
        loser_id=loser_id,
        source=source,
    )
    return report


# --- checks and reads -----------------------------------------------------------------------


def _validated_choices(field_choices: Mapping[str, str] | None) -> dict[str, str]:
    choices = dict(field_choices or {})
    errors = [
        {"field": f"field_choices.{name}", "message": "unknown field"}
        for name in choices
        if name not in FIELD_CHOICE_FIELDS
    ] + [
        {"field": f"field_choices.{name}", "message": "must be survivor or loser"}
        for name, side in choices.items()
        if name in FIELD_CHOICE_FIELDS and side not in ("survivor", "loser")
    ]
    if errors:
        raise InvalidInput("bad field_choices", code="invalid-field-choices", errors=errors)
    return choices


async def _read_contacts(
    session: AsyncSession, account_id: int, survivor_id: int, loser_id: int, *, lock: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    if survivor_id == loser_id:
        raise MergeConflict("same_contact", "a contact cannot be merged into itself")
    query = (
        select(*(getattr(Contact, c) for c in _CONTACT_COLUMNS))
        .where(Contact.account_id == account_id, Contact.id.in_((survivor_id, loser_id)))
        .order_by(Contact.id)
    )
    if lock:
        query = query.with_for_update()
    rows = {r["id"]: dict(r) for r in (await session.execute(query)).mappings()}
    for contact_id in (survivor_id, loser_id):
        row = rows.get(contact_id)
        if row is None:
            raise MergeConflict("not_found", f"contact {contact_id} not found")
        if row["deleted_at"] is not None:
            merged_into = row["merged_into_id"]
            detail = f"contact {contact_id} is not live"
            if merged_into is not None:
                raise MergeConflict("already_merged", detail, merged_into_id=merged_into)
            raise MergeConflict("not_live", detail)
    return rows[survivor_id], rows[loser_id]


# The plan's reads (§5.3's tables, references, candidates) as one statement, built once: bind
# parameters only, so it compiles once and asyncpg prepares it once per connection.
_ACCOUNT = bindparam("plan_account", type_=BigInteger)
_SURVIVOR = bindparam("plan_survivor", type_=BigInteger)
_LOSER = bindparam("plan_loser", type_=BigInteger)
_BOTH = (_SURVIVOR, _LOSER)


def _aggregated(
    value: ColumnExpressionArgument[Any],
    order: ColumnExpressionArgument[Any],
    *where: ColumnExpressionArgument[bool],
) -> ColumnElement[Any]:
    return (
        select(func.jsonb_agg(aggregate_order_by(value, order), type_=JSONB))
        .where(*where)
        .scalar_subquery()
    )


def _rows_of(model: Any, both: bool, *cols: str) -> ColumnElement[Any]:
    """One table's planned rows as a jsonb array of arrays (`cols` order), by `cols[0]`."""
    return _aggregated(
        func.jsonb_build_array(*(getattr(model, c) for c in cols)),
        getattr(model, cols[0]),
        model.account_id == _ACCOUNT,
        model.contact_id.in_(_BOTH) if both else model.contact_id == _LOSER,
    )


def _plan_reads() -> Select[Any]:
    r, dc, ir = Relationship, DuplicateCandidate, ImportRecord
    reads: dict[str, ColumnElement[Any]] = {
        kind: _rows_of(model, False, "id") for kind, model in _PLAIN_MOVES.items()
    }
    reads["activities"] = _rows_of(ActivityContact, True, *_ACTIVITY_COLUMNS)
    reads["photos"] = _rows_of(Photo, True, *_PHOTO_COLUMNS)
    reads["addresses"] = _rows_of(Address, True, *_ADDRESS_COLUMNS)
    reads["contact_fields"] = _rows_of(ContactField, True, *_FIELD_COLUMNS)
    reads["tags"] = _rows_of(ContactTag, True, *_TAG_COLUMNS)
    reads["reminders"] = _rows_of(Reminder, True, *_REMINDER_COLUMNS)
    reads["relationships"] = _aggregated(
        func.jsonb_build_array(*(getattr(r, c) for c in _RELATIONSHIP_COLUMNS)),
        r.id,
        r.account_id == _ACCOUNT,
        or_(r.contact_id.in_(_BOTH), r.related_contact_id.in_(_BOTH)),
    )
    reads["first_met_through"] = _aggregated(
        Contact.id,
        Contact.id,
        Contact.account_id == _ACCOUNT,
        Contact.first_met_through_id == _LOSER,
        Contact.id != _SURVIVOR,
    )
    reads["merged_into"] = _aggregated(
        Contact.id, Contact.id, Contact.account_id == _ACCOUNT, Contact.merged_into_id == _LOSER
    )
    reads["import_records"] = _aggregated(
        ir.id,
        ir.id,
        ir.account_id == _ACCOUNT,
        ir.local_entity_type == "contact",
        ir.local_entity_id == _LOSER,
    )
    reads["candidates"] = _aggregated(
        func.jsonb_build_array(*(getattr(dc, c) for c in _CANDIDATE_COLUMNS)),
        dc.id,
        dc.account_id == _ACCOUNT,
        or_(dc.contact_id.in_(_BOTH), dc.duplicate_contact_id.in_(_BOTH)),
    )
    return select(*(value.label(kind) for kind, value in reads.items()))


_PLAN_READS = _plan_reads()


async def _read_plan_rows(session: AsyncSession, plan: _Plan) -> dict[str, list[Any]]:
    """Every row the plan reads, in one round trip instead of ~20.

    Each table's rows come back in the order, and with the values, of its own
    `SELECT … ORDER BY` (jsonb arrays: ids, text and NULL round-trip unchanged).
    """
    params = {
        "plan_account": plan.account_id,
        "plan_survivor": plan.survivor_id,
        "plan_loser": plan.loser_id,
    }
    row = (await session.execute(_PLAN_READS, params)).one()
    return {kind: value or [] for kind, value in row._mapping.items()}


def _as_dicts(rows: list[Any], *cols: str) -> list[dict[str, Any]]:
    return [dict(zip(cols, values, strict=True)) for values in rows]


# --- the plan -------------------------------------------------------------------------------


async def _plan(
    session: AsyncSession,
    account_id: int,
    contacts: tuple[dict[str, Any], dict[str, Any]],
    choices: dict[str, str],
    candidate_id: int | None,
) -> _Plan:
    survivor, loser = contacts
    plan = _Plan(account_id, survivor, loser, choices)
    rows = await _read_plan_rows(session, plan)
    for kind in _PLAIN_MOVES:  # steps 2, 4, 5, 6, 13
        plan.moves[kind] = [row_id for (row_id,) in rows[kind]]
    _plan_activities(plan, _as_dicts(rows["activities"], *_ACTIVITY_COLUMNS))
    photo_for_hash = _plan_photos(plan, _as_dicts(rows["photos"], *_PHOTO_COLUMNS))
    _plan_addresses(plan, _as_dicts(rows["addresses"], *_ADDRESS_COLUMNS))
    _plan_contact_fields(plan, _as_dicts(rows["contact_fields"], *_FIELD_COLUMNS))
    _plan_tags(plan, _as_dicts(rows["tags"], *_TAG_COLUMNS))
    _plan_reminders(plan, _as_dicts(rows["reminders"], *_REMINDER_COLUMNS))
    _plan_relationships(plan, _as_dicts(rows["relationships"], *_RELATIONSHIP_COLUMNS))
    _plan_references(plan, rows)
    await _plan_candidates(
        session, plan, candidate_id, _as_dicts(rows["candidates"], *_CANDIDATE_COLUMNS)
    )
    _plan_scalars(plan, photo_for_hash)  # step 1 needs the photo plan (avatar)
    return plan


def _split(rows: list[dict[str, Any]], plan: _Plan, key: str) -> tuple[set[Any], list[Any]]:
    survivor_keys = {r[key] for r in rows if r["contact_id"] == plan.survivor_id}
    loser_rows = [r for r in rows if r["contact_id"] == plan.loser_id]
    return survivor_keys, loser_rows


def _plan_activities(plan: _Plan, rows: list[dict[str, Any]]) -> None:
    shared, loser_rows = _split(rows, plan, "activity_id")
    plan.drops["activities"] = [r["activity_id"] for r in loser_rows if r["activity_id"] in shared]
    plan.moves["activities"] = [
        r["activity_id"] for r in loser_rows if r["activity_id"] not in shared
    ]


def _plan_photos(plan: _Plan, rows: list[dict[str, Any]]) -> dict[str, int]:
    survivor_hashes = {
        r["content_hash"]: r["id"]
        for r in rows
        if r["contact_id"] == plan.survivor_id and r["content_hash"] is not None
    }
    plan.drops["photos"], plan.moves["photos"] = [], []
    replaced: dict[str, int] = {}
    for row in rows:
        if row["contact_id"] != plan.loser_id:
            continue
        same = survivor_hashes.get(row["content_hash"]) if row["content_hash"] else None
        if same is not None:
            plan.drops["photos"].append(row["id"])
            plan.dropped_photo_keys.append(row["storage_key"])
            replaced[str(row["id"])] = same
        else:
            plan.moves["photos"].append(row["id"])
    return replaced


def _address_identity(row: Mapping[str, Any]) -> tuple[str, ...]:
    parts = ("line1", "line2", "city", "province", "postal_code", "country")
    return tuple(" ".join((row[p] or "").split()).lower() for p in parts)


def _plan_addresses(plan: _Plan, rows: list[dict[str, Any]]) -> None:
    seen = {_address_identity(r) for r in rows if r["contact_id"] == plan.survivor_id}
    plan.drops["addresses"], plan.moves["addresses"] = [], []
    for row in rows:
        if row["contact_id"] != plan.loser_id:
            continue
        identity = _address_identity(row)
        if identity in seen:
            plan.drops["addresses"].append(row["id"])
        else:
            # Moved loser rows count as the survivor's for the loser rows after them.
            seen.add(identity)
            plan.moves["addresses"].append(row["id"])


def _plan_contact_fields(plan: _Plan, rows: list[dict[str, Any]]) -> None:
    def identity(row: Mapping[str, Any]) -> tuple[int, str]:
        return row["contact_field_type_id"], row["match_key"] or row["value"].strip()

    seen = {identity(r) for r in rows if r["contact_id"] == plan.survivor_id}
    plan.drops["contact_fields"], plan.moves["contact_fields"] = [], []
    for row in rows:
        if row["contact_id"] != plan.loser_id:
            continue
        if identity(row) in seen:
            plan.drops["contact_fields"].append(row["id"])
        else:
            seen.add(identity(row))
            plan.moves["contact_fields"].append(row["id"])


def _plan_tags(plan: _Plan, rows: list[dict[str, Any]]) -> None:
    shared, loser_rows = _split(rows, plan, "tag_id")
    plan.drops["tags"] = [r["tag_id"] for r in loser_rows if r["tag_id"] in shared]
    plan.moves["tags"] = [r["tag_id"] for r in loser_rows if r["tag_id"] not in shared]


def _plan_reminders(plan: _Plan, rows: list[dict[str, Any]]) -> None:
    survivor_birthday = any(
        r["type"] == "birthday" for r in rows if r["contact_id"] == plan.survivor_id
    )
    loser_rows = [r for r in rows if r["contact_id"] == plan.loser_id]
    plan.drops["reminders"] = [
        r["id"] for r in loser_rows if survivor_birthday and r["type"] == "birthday"
    ]
    plan.moves["reminders"] = [
        r["id"] for r in loser_rows if not (survivor_birthday and r["type"] == "birthday")
    ]


def _plan_relationships(plan: _Plan, rows: list[dict[str, Any]]) -> None:
    s, loser = plan.survivor_id, plan.loser_id
    survivor_out = {
        (r["related_contact_id"], r["relationship_type_id"]) for r in rows if r["contact_id"] == s
    }
    survivor_in = {
        (r["contact_id"], r["relationship_type_id"]) for r in rows if r["related_contact_id"] == s
    }
    dropped: list[int] = []
    for row in rows:
        if row["contact_id"] == loser:  # outgoing
            key = (row["related_contact_id"], row["relationship_type_id"])
            if row["related_contact_id"] == s or key in survivor_out:
                dropped.append(row["id"])
            else:
                survivor_out.add(key)
                plan.rel_out_moves.append(row["id"])
        elif row["related_contact_id"] == loser:  # incoming
            key = (row["contact_id"], row["relationship_type_id"])
            if row["contact_id"] == s or key in survivor_in:
                dropped.append(row["id"])
            else:
                survivor_in.add(key)
                plan.rel_in_moves.append(row["id"])
    plan.drops["relationships"] = dropped


def _plan_references(plan: _Plan, rows: dict[str, list[Any]]) -> None:
    """Step 13's references and step 14's import mappings."""
    plan.moves["first_met_through"] = sorted(rows["first_met_through"])
    plan.survivor_meets_loser = plan.survivor["first_met_through_id"] == plan.loser_id
    plan.moves["merged_into"] = sorted(rows["merged_into"])
    plan.moves["import_records"] = sorted(rows["import_records"])


async def _plan_candidates(
    session: AsyncSession, plan: _Plan, candidate_id: int | None, rows_list: list[dict[str, Any]]
) -> None:
    s, loser = plan.survivor_id, plan.loser_id
    low, high = min(s, loser), max(s, loser)
    pairs = {(r["contact_id"], r["duplicate_contact_id"]) for r in rows_list}
    if candidate_id is not None and not any(
        r["id"] == candidate_id and (r["contact_id"], r["duplicate_contact_id"]) == (low, high)
        for r in rows_list
    ):
        raise MergeConflict("candidate_mismatch", "candidate_id names another pair")
    others: dict[int, dict[str, Any]] = {}
    for row in rows_list:
        pair = (row["contact_id"], row["duplicate_contact_id"])
        if pair == (low, high):
            if row["status"] != "merged":
                plan.pair_candidate = row["id"]
        elif loser in pair and row["status"] == "pending":
            others[row["id"]] = row
    if not others:
        return
    other_ids = {
        r["duplicate_contact_id"] if r["contact_id"] == loser else r["contact_id"]
        for r in others.values()
    }
    live = set(
        await session.scalars(
            select(Contact.id).where(
                Contact.account_id == plan.account_id,
                Contact.id.in_(other_ids),
                Contact.deleted_at.is_(None),
            )
        )
    )
    for cid, row in others.items():
        other = row["duplicate_contact_id"] if row["contact_id"] == loser else row["contact_id"]
        new_pair = (min(s, other), max(s, other))
        if other in live and other != s and new_pair not in pairs:
            pairs.add(new_pair)
            plan.repoint.append((cid, *new_pair))
        else:
            plan.obsolete.append(cid)


def _plan_scalars(plan: _Plan, photo_for_dropped: dict[str, int]) -> None:
    survivor, loser, values = plan.survivor, plan.loser, plan.survivor_values
    for name in FIELD_CHOICE_FIELDS:
        if plan.choices.get(name, "survivor") != "loser":
            continue
        if name == "avatar":
            avatar = loser["avatar_photo_id"]
            values["avatar_photo_id"] = (
                photo_for_dropped.get(str(avatar), avatar) if avatar is not None else None
            )
        elif name == "birthdate":
            values["birthdate"] = loser["birthdate"]
            values["birthdate_year_unknown"] = loser["birthdate_year_unknown"]
        else:
            values[name] = loser[name]
    talked = [t for t in (survivor["last_talked_to_at"], loser["last_talked_to_at"]) if t]
    values["last_talked_to_at"] = max(talked) if talked else None
    if plan.survivor_meets_loser:
        values["first_met_through_id"] = None  # step 13: never a self reference
    merged = {**survivor, **values}
    values["display_name"] = display_name(
        merged["first_name"], merged["last_name"], merged["nickname"]
    )
    for column, new in list(values.items()):
        if survivor[column] == new:
            del values[column]
        else:
            label = "avatar" if column == "avatar_photo_id" else column
            plan.fields.append(ReportField(label, survivor[column], new))


# --- apply ----------------------------------------------------------------------------------


def _expect(result: Any, planned: int, what: str) -> None:
    if result.rowcount != planned:
        msg = f"merge {what}: planned {planned} rows, touched {result.rowcount}"
        raise MergePlanMismatch(msg)


async def _move(session: AsyncSession, plan: _Plan, model: Any, kind: str, key: Any = None) -> None:
    ids = plan.moves.get(kind, [])
    if not ids:
        return
    key_column = key if key is not None else model.id
    result = await session.execute(
        update(model)
        .where(
            model.account_id == plan.account_id,
            model.contact_id == plan.loser_id,
            key_column.in_(ids),
        )
        .values(contact_id=plan.survivor_id)
        .execution_options(synchronize_session=False)
    )
    _expect(result, len(ids), f"move {kind}")


async def _drop(session: AsyncSession, plan: _Plan, model: Any, kind: str, key: Any = None) -> None:
    ids = plan.drops.get(kind, [])
    if not ids:
        return
    key_column = key if key is not None else model.id
    result = await session.execute(
        delete(model)
        .where(
            model.account_id == plan.account_id,
            model.contact_id == plan.loser_id,
            key_column.in_(ids),
        )
        .execution_options(synchronize_session=False)
    )
    _expect(result, len(ids), f"drop {kind}")


async def _apply(session: AsyncSession, plan: _Plan, actor_id: int | None) -> None:
    """Steps 1–17 in order; every statement's row count is checked against the plan."""
    await _apply_scalars(session, plan)  # 1 (display name: step 17, same row)
    await _move(session, plan, Note, "notes")  # 2
    await _drop(session, plan, ActivityContact, "activities", ActivityContact.activity_id)  # 3
    await _move(session, plan, ActivityContact, "activities", ActivityContact.activity_id)
    for kind in ("calls", "life_events", "documents"):  # 4, 5, 6
        await _move(session, plan, _PLAIN_MOVES[kind], kind)
    await _drop(session, plan, Photo, "photos")  # 7
    await _move(session, plan, Photo, "photos")
    await _drop(session, plan, Address, "addresses")  # 8
    await _move(session, plan, Address, "addresses")
    await _drop(session, plan, ContactField, "contact_fields")  # 9
    await _move(session, plan, ContactField, "contact_fields")
    await _drop(session, plan, ContactTag, "tags", ContactTag.tag_id)  # 10
    await _move(session, plan, ContactTag, "tags", ContactTag.tag_id)
    await _drop(session, plan, Reminder, "reminders")  # 11
    await _move(session, plan, Reminder, "reminders")
    await _apply_relationships(session, plan)  # 12
    for kind in ("conversations", "gifts", "debts", "pets", "tasks"):  # 13
        await _move(session, plan, _PLAIN_MOVES[kind], kind)
    await _apply_references(session, plan)  # 13, 14
    await _apply_candidates(session, plan, actor_id)  # 15
    result = await session.execute(  # 16
        update(Contact)
        .where(Contact.id == plan.loser_id, Contact.deleted_at.is_(None))
        .values(deleted_at=func.now(), merged_into_id=plan.survivor_id)
        .execution_options(synchronize_session=False)
    )
    _expect(result, 1, "soft-delete loser")


async def _apply_scalars(session: AsyncSession, plan: _Plan) -> None:
    if not plan.survivor_values:
        return
    result = await session.execute(
        update(Contact)
        .where(Contact.id == plan.survivor_id, Contact.account_id == plan.account_id)
        .values(**plan.survivor_values)
        .execution_options(synchronize_session=False)
    )
    _expect(result, 1, "survivor fields")


async def _apply_relationships(session: AsyncSession, plan: _Plan) -> None:
    r = Relationship
    if plan.drops["relationships"]:
        result = await session.execute(
            delete(r).where(r.account_id == plan.account_id, r.id.in_(plan.drops["relationships"]))
        )
        _expect(result, len(plan.drops["relationships"]), "drop relationships")
    moves = ((plan.rel_out_moves, "contact_id"), (plan.rel_in_moves, "related_contact_id"))
    for ids, column in moves:
        if not ids:
            continue
        result = await session.execute(
            update(r)
            .where(
                r.account_id == plan.account_id,
                r.id.in_(ids),
                getattr(r, column) == plan.loser_id,
            )
            .values({column: plan.survivor_id})
            .execution_options(synchronize_session=False)
        )
        _expect(result, len(ids), f"move relationships ({column})")


async def _apply_references(session: AsyncSession, plan: _Plan) -> None:
    references = (
        ("first_met_through", "first_met_through_id"),
        ("merged_into", "merged_into_id"),
    )
    for kind, column in references:
        ids = plan.moves[kind]
        if not ids:
            continue
        result = await session.execute(
            update(Contact)
            .where(
                Contact.account_id == plan.account_id,
                Contact.id.in_(ids),
                getattr(Contact, column) == plan.loser_id,
            )
            .values({column: plan.survivor_id})
            .execution_options(synchronize_session=False)
        )
        _expect(result, len(ids), f"repoint {column}")
    ids = plan.moves["import_records"]
    if ids:
        result = await session.execute(
            update(ImportRecord)
            .where(
                ImportRecord.account_id == plan.account_id,
                ImportRecord.id.in_(ids),
                ImportRecord.local_entity_id == plan.loser_id,
            )
            .values(local_entity_id=plan.survivor_id)
            .execution_options(synchronize_session=False)
        )
        _expect(result, len(ids), "repoint import_records")


async def _apply_candidates(session: AsyncSession, plan: _Plan, actor_id: int | None) -> None:
    dc = DuplicateCandidate
    if plan.pair_candidate is not None:
        result = await session.execute(
            update(dc)
            .where(dc.id == plan.pair_candidate, dc.status != "merged")
            .values(status="merged", resolved_at=func.now(), resolved_by_id=actor_id)
            .execution_options(synchronize_session=False)
        )
        _expect(result, 1, "candidate merged")
    for cid, low, high in plan.repoint:
        result = await session.execute(
            update(dc)
            .where(dc.id == cid, dc.status == "pending")
            .values(contact_id=low, duplicate_contact_id=high)
            .execution_options(synchronize_session=False)
        )
        _expect(result, 1, "candidate repointed")
    if plan.obsolete:
        result = await session.execute(
            update(dc)
            .where(dc.id.in_(plan.obsolete), dc.status == "pending")
            .values(status="obsolete", resolved_at=func.now())
            .execution_options(synchronize_session=False)
        )
        _expect(result, len(plan.obsolete), "candidates obsoleted")


# --- record: audit, history, event ----------------------------------------------------------


async def _record(
    session: AsyncSession,
    plan: _Plan,
    report: MergeReport,
    *,
    merge_id: uuid.UUID,
    source: str,
    import_id: int | None,
    requested_by_id: int | None,
    generation: int,
    correlation_id: uuid.UUID | None,
) -> None:
    """Steps 18 and 19: the audit entry, the contact_merges row, the outbox event."""
    body = report.as_json()
    # The requester's name, read inside the INSERT (one round trip less per merge): the
    # display name, else the email, else "system" (no requester, or not of this account).
    actor_name = func.coalesce(
        select(func.coalesce(func.nullif(User.display_name, ""), cast(User.email, Text)))
        .where(User.id == requested_by_id, User.account_id == plan.account_id)
        .scalar_subquery(),
        "system",
    )
    await session.execute(
        insert(AuditLog).values(
            account_id=plan.account_id,
            user_id=requested_by_id,
            user_name=actor_name,
            contact_id=plan.survivor_id,
            contact_name=report.survivor.display_name_after,
            event="contacts_merged",
            metadata={
                "merge_id": str(merge_id),
                "source": source,
                "import_id": import_id,
                "survivor_id": plan.survivor_id,
                "survivor_name": plan.survivor["display_name"],
                "loser_id": plan.loser_id,
                "loser_name": plan.loser["display_name"],
                "field_choices": dict(plan.choices),
                "report": body,
            },
        )
    )
    await session.execute(
        insert(ContactMerge).values(
            merge_id=merge_id,
            account_id=plan.account_id,
            survivor_id=plan.survivor_id,
            loser_id=plan.loser_id,
            import_id=import_id,
            source=source,
            requested_by_id=requested_by_id,
            status="done",
            report=body,
        )
    )
    payload = ContactsMerged(
        merge_id=merge_id,
        survivor_id=plan.survivor_id,
        loser_id=plan.loser_id,
        source=source,  # type: ignore[arg-type]  # validated by the payload model
        import_id=import_id,
        moved=dict(report.moved),
        dropped=report.dropped_counts(),
        dropped_photo_storage_keys=list(report.dropped_photo_storage_keys),
    )
    envelope = build_envelope(
        CONTACTS_MERGED,
        payload,
        account_id=plan.account_id,
        generation=generation,
        correlation_id=correlation_id,
    )
    await outbox.add(session, CONTACTS_MERGED, envelope)


async def record_merge_failure(
    session: AsyncSession,
    *,
    account_id: int,
    merge_id: uuid.UUID,
    survivor_id: int,
    loser_id: int,
    code: str,
    source: str = "api",
    requested_by_id: int | None = None,
    generation: int | None = None,
    correlation_id: uuid.UUID | None = None,
) -> None:
    """A refused merge as a result (dedup.md §5.1): failed contact_merges row + merge_failed."""
    await session.execute(
        insert(ContactMerge).values(
            merge_id=merge_id,
            account_id=account_id,
            survivor_id=survivor_id,
            loser_id=loser_id,
            source=source,
            requested_by_id=requested_by_id,
            status="failed",
            error_code=code,
        )
    )
    envelope = build_envelope(
        CONTACTS_MERGE_FAILED,
        ContactsMergeFailed(merge_id=merge_id, code=code),
        account_id=account_id,
        generation=generation,
        correlation_id=correlation_id,
    )
    await outbox.add(session, CONTACTS_MERGE_FAILED, envelope)
    log.info("merge_refused", merge_id=str(merge_id), code=code)
