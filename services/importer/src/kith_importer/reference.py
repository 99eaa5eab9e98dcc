"""P0 reference data (importer.md §7.1): Monica genders, field types, relationship types and tags
matched to Kith's, anything unmatched created race-safely (ON CONFLICT), one map per import.

The map is stored in staging, so a resume and the misc-data phase reuse it without requests.
Matching rules: genders by case-insensitive name, then M → Male, F → Female; field types
`email`/`mailto` → Kith email and `phone`/`tel` → Kith phone, then by case-insensitive name;
relationship types by name ignoring case and non-letters (`bestfriend` = "Best friend"), also
against Kith's reverse names (Monica's `child` is Kith's Parent read from the other side);
tags by case-insensitive name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.contact_fields import InvalidProtocol, normalize_protocol
from kith_common.db.models import ContactFieldType, Gender, RelationshipType, Tag
from kith_importer.parsing import as_dict

__all__ = ["ReferenceMap", "letters"]

_NON_LETTERS = re.compile(r"[^a-z]")


def letters(name: str) -> str:
    return _NON_LETTERS.sub("", name.lower())


@dataclass
class ReferenceMap:
    """Monica reference names → Kith ids for one account (JSON-serialisable)."""

    account_id: int
    genders: dict[str, int] = field(default_factory=dict)
    field_types: dict[str, list[Any]] = field(default_factory=dict)  # key → [id, kind]
    rel_types: dict[str, list[Any]] = field(default_factory=dict)  # slug → [id, flipped]
    tags: dict[str, int] = field(default_factory=dict)

    def dump(self) -> dict[str, Any]:
        return {
            "genders": self.genders,
            "field_types": self.field_types,
            "rel_types": self.rel_types,
            "tags": self.tags,
        }

    @classmethod
    def load(cls, account_id: int, payload: dict[str, Any]) -> ReferenceMap:
        return cls(
            account_id,
            genders=dict(payload.get("genders", {})),
            field_types=dict(payload.get("field_types", {})),
            rel_types=dict(payload.get("rel_types", {})),
            tags=dict(payload.get("tags", {})),
        )

    # --- genders -------------------------------------------------------------------------------

    async def gender(
        self, session: AsyncSession, name: str | None, gtype: str | None
    ) -> int | None:
        if not name and not gtype:
            return None
        key = f"{(name or '').lower()}|{gtype or ''}"
        if key in self.genders:
            return self.genders[key]
        local = None
        if name:
            local = await self._visible(session, Gender, func.lower(Gender.name) == name.lower())
        if local is None and gtype in ("M", "F"):
            local = await self._visible(
                session, Gender, Gender.key == {"M": "male", "F": "female"}[gtype]
            )
        if local is None and name:
            local = await self._create(session, Gender, name=name)
        if local is not None:
            self.genders[key] = local
        return local

    # --- contact field types -------------------------------------------------------------------

    async def field_type(
        self, session: AsyncSession, monica: dict[str, Any]
    ) -> tuple[int, str] | None:
        name = str(monica.get("name") or "").strip()
        mtype = str(monica.get("type") or "").lower()
        protocol = str(monica.get("protocol") or "").lower()
        key = f"{monica.get('id')}|{name.lower()}"
        if key in self.field_types:
            found = self.field_types[key]
            return int(found[0]), str(found[1])
        seeded = None
        if mtype == "email" or protocol.startswith("mailto"):
            seeded = "email"
        elif mtype == "phone" or protocol.startswith("tel"):
            seeded = "phone"
        row: ContactFieldType | None = None
        if seeded is not None:
            row = await session.scalar(
                select(ContactFieldType).where(ContactFieldType.key == seeded)
            )
        if row is None and name:
            row = await session.scalar(
                select(ContactFieldType)
                .where(
                    self._visible_to(ContactFieldType),
                    func.lower(ContactFieldType.name) == name.lower(),
                )
                .order_by(ContactFieldType.account_id.nulls_first())
                .limit(1)
            )
        if row is None and name:
            try:
                local_protocol = (
                    normalize_protocol(protocol) if protocol in ("tel:", "mailto:") else None
                )
            except InvalidProtocol:
                local_protocol = None
            created = await self._create(
                session, ContactFieldType, name=name, protocol=local_protocol
            )
            row = await session.get(ContactFieldType, created)
        if row is None:
            return None
        self.field_types[key] = [row.id, row.kind]
        return row.id, row.kind

    # --- relationship types --------------------------------------------------------------------

    async def relationship_type(
        self, session: AsyncSession, slug: str, reverse: str | None
    ) -> tuple[int, bool] | None:
        """(type id, flipped): flipped means store (B, type, A) for Monica's (A, slug, B)."""
        if not slug:
            return None
        if slug in self.rel_types:
            found = self.rel_types[slug]
            return int(found[0]), bool(found[1])
        wanted = letters(slug)
        rows = (
            await session.scalars(
                select(RelationshipType)
                .where(self._visible_to(RelationshipType))
                .order_by(RelationshipType.account_id.nulls_first(), RelationshipType.id)
            )
        ).all()
        result: tuple[int, bool] | None = None
        for row in rows:
            if letters(row.name) == wanted or (row.key and letters(row.key) == wanted):
                result = (row.id, False)
                break
        if result is None:
            for row in rows:
                if letters(row.reverse_name) == wanted and letters(row.name) != wanted:
                    result = (row.id, True)
                    break
        if result is None:
            created = await self._create(
                session, RelationshipType, name=slug, reverse_name=(reverse or slug)
            )
            result = (created, False)
        self.rel_types[slug] = [result[0], result[1]]
        return result

    # --- tags ----------------------------------------------------------------------------------

    async def tag(self, session: AsyncSession, name: str) -> int:
        key = name.lower()
        if key in self.tags:
            return self.tags[key]
        local = await session.scalar(
            select(Tag.id).where(Tag.account_id == self.account_id, func.lower(Tag.name) == key)
        )
        if local is None:
            await session.execute(
                insert(Tag).values(account_id=self.account_id, name=name).on_conflict_do_nothing()
            )
            local = await session.scalar(
                select(Tag.id).where(Tag.account_id == self.account_id, func.lower(Tag.name) == key)
            )
        assert local is not None
        self.tags[key] = local
        return local

    # --- helpers -------------------------------------------------------------------------------

    def _visible_to(self, model: Any) -> Any:
        return or_(model.account_id.is_(None), model.account_id == self.account_id)

    async def _visible(self, session: AsyncSession, model: Any, condition: Any) -> int | None:
        return await session.scalar(
            select(model.id)
            .where(self._visible_to(model), condition)
            .order_by(model.account_id.nulls_first())
            .limit(1)
        )

    async def _create(self, session: AsyncSession, model: Any, **values: Any) -> int:
        await session.execute(
            insert(model).values(account_id=self.account_id, **values).on_conflict_do_nothing()
        )
        created = await session.scalar(
            select(model.id).where(
                model.account_id == self.account_id, model.name == values["name"]
            )
        )
        assert created is not None
        return int(created)


async def prime(session: AsyncSession, refmap: ReferenceMap, pages: dict[str, list[Any]]) -> None:
    """Match every reference item Monica listed (P0), filling the map."""
    for item in pages.get("genders", []):
        data = as_dict(item)
        await refmap.gender(session, str(data.get("name") or "") or None, data.get("type"))
    for item in pages.get("contactfieldtypes", []):
        await refmap.field_type(session, as_dict(item))
    for item in pages.get("relationshiptypes", []):
        data = as_dict(item)
        slug = str(data.get("name") or "")
        await refmap.relationship_type(session, slug, data.get("name_reverse_relationship"))
    for item in pages.get("tags", []):
        name = str(as_dict(item).get("name") or "").strip()
        if name:
            await refmap.tag(session, name)


__all__ += ["prime"]
