"""P1.5 auto-merge (importer.md §7.5): same normalised name and a shared match key, merged by
connected component through the shared merge routine, one savepoint per pair."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy import ARRAY, BigInteger, any_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import (
    Address,
    Contact,
    ContactField,
    ContactFieldType,
    ImportRecord,
)
from kith_common.merge import MergeConflict, merge_contacts
from kith_importer.crawl import CHUNK, Crawl

__all__ = ["run"]

log = structlog.get_logger(__name__)

log = structlog.get_logger(__name__)
REFERENCE_ENDPOINTS = ("genders", "contactfieldtypes", "relationshiptypes", "tags")
# A pair touches two contacts: five pairs keep a merge step within §7.0's ten contacts. Each
# pair is still atomic on its own (a savepoint); only the step bookkeeping is shared.
PAIRS_PER_STEP = CHUNK // 2


async def run(crawl: Crawl) -> None:
    if not crawl.options.auto_merge_duplicates:
        crawl.checkpoint = {"phase": "cross_references"}
        return
    async with crawl.unit_of_work() as session:
        groups = await _merge_groups(session, crawl)
    for start in range(0, len(groups), PAIRS_PER_STEP):
        async with crawl.step() as session:
            for survivor, loser in groups[start : start + PAIRS_PER_STEP]:
                await _merge_pair(crawl, session, survivor, loser)
    crawl.checkpoint = {"phase": "cross_references"}


async def _merge_pair(crawl: Crawl, session: AsyncSession, survivor: int, loser: int) -> None:
    """One pair through the shared merge routine, atomic on its own (a savepoint)."""
    try:
        async with session.begin_nested():
            await merge_contacts(
                session,
                account_id=crawl.scope.account_id,
                survivor_id=survivor,
                loser_id=loser,
                source="auto_merge",
                merge_id=uuid.uuid4(),
                import_id=crawl.row.id,
                requested_by_id=crawl.scope.user_id,
                generation=crawl.row.generation,
            )
        crawl.summary["merged"] += 1
    except MergeConflict as err:
        crawl.error(f"Auto-merge of contacts {loser} into {survivor}: {err.detail or err.code}")


async def _merge_groups(session: AsyncSession, crawl: Crawl) -> list[tuple[int, int]]:
    """(survivor, loser) pairs: same normalised name and a shared match key, by component."""
    account = crawl.scope.account_id
    # Two index reads, not a join: this import's rows are usually newer than the table's
    # statistics, so a planner estimating one row for them chose a nested loop reading all the
    # import's records per contact (5.7 s at 5,000 contacts, 30 s at 10,000 on the bench box).
    mapped = await session.scalars(
        select(ImportRecord.local_entity_id).where(
            ImportRecord.import_id == crawl.row.id,
            ImportRecord.account_id == account,
            ImportRecord.source_entity_type == "contact",
            ImportRecord.local_entity_type == "contact",
        )
    )
    ids = sorted(set(mapped))
    contacts = (
        await session.execute(
            select(Contact.id, Contact.first_name, Contact.last_name, Contact.created_at)
            .where(
                Contact.account_id == account,
                Contact.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger))),
                Contact.deleted_at.is_(None),
                Contact.merged_into_id.is_(None),
            )
            .order_by(Contact.id)
        )
    ).all()
    by_name: dict[str, list[tuple[int, Any]]] = {}
    for cid, first, last, created in contacts:
        name = " ".join(f"{first or ''} {last or ''}".split()).lower()
        if name:
            by_name.setdefault(name, []).append((cid, created))
    candidates = [c for group in by_name.values() if len(group) > 1 for c, _ in group]
    if not candidates:
        return []
    keys: dict[int, set[str]] = {c: set() for c in candidates}
    field_rows = await session.execute(
        select(ContactField.contact_id, ContactFieldType.kind, ContactField.match_key)
        .join(ContactFieldType, ContactFieldType.id == ContactField.contact_field_type_id)
        .where(
            ContactField.account_id == account,
            ContactField.contact_id.in_(candidates),
            ContactField.match_key.is_not(None),
            ContactFieldType.kind.in_(("email", "phone")),
        )
    )
    for cid, kind, key in field_rows:
        keys[cid].add(f"{kind}:{key}")
    address_rows = await session.execute(
        select(Address.contact_id, Address.match_key).where(
            Address.account_id == account,
            Address.contact_id.in_(candidates),
            Address.match_key.is_not(None),
        )
    )
    for cid, key in address_rows:
        keys[cid].add(f"address:{key}")
    pairs: list[tuple[int, int]] = []
    for group in by_name.values():
        if len(group) < 2:
            continue
        parent = {cid: cid for cid, _ in group}
        find = _finder(parent)
        owner: dict[str, int] = {}
        for cid, _ in group:
            for key in keys.get(cid, ()):
                if key in owner:
                    parent[find(cid)] = find(owner[key])
                else:
                    owner[key] = cid
        components: dict[int, list[tuple[int, Any]]] = {}
        for cid, created in group:
            components.setdefault(find(cid), []).append((cid, created))
        for members in components.values():
            if len(members) < 2:
                continue
            members.sort(key=lambda m: (m[1], m[0]))
            survivor = members[0][0]
            pairs.extend((survivor, loser) for loser, _ in members[1:])
    return pairs


def _finder(parent: dict[int, int]) -> Any:
    """Union-find root lookup with path halving over `parent`."""

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    return find
