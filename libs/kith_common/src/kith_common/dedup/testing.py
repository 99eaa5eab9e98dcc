"""Test data builders for merge and dedup tests (kith_common's and the dedup service's).

A `Seeder` writes contacts and their rows into one account the way the real write paths do:
contact fields and addresses get their value and match key from `contact_fields.prepare`,
display names from the merge's display-name rule. Nothing here commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.accounts import create_account
from kith_common.contact_fields import prepare, prepare_address
from kith_common.db.models import (
    Address,
    Contact,
    ContactField,
    ContactFieldType,
    LifeEventType,
    RelationshipType,
)
from kith_common.merge.names import display_name

__all__ = ["Seeder", "new_account"]


@dataclass
class Seeder:
    """Writes rows into one account; `user_id` is the account's first admin."""

    session: AsyncSession
    account_id: int
    user_id: int
    generation: int
    region: str | None = "US"

    async def contact(self, first_name: str, last_name: str | None = None, **values: Any) -> int:
        """A live contact; `display_name` follows the rule unless given."""
        name = values.pop("display_name", None) or display_name(
            first_name, last_name, values.get("nickname")
        )
        return int(
            await self.session.scalar(
                insert(Contact)
                .values(
                    account_id=self.account_id,
                    first_name=first_name,
                    last_name=last_name,
                    display_name=name,
                    **values,
                )
                .returning(Contact.id)
            )
            or 0
        )

    async def named(self, display: str, **values: Any) -> int:
        """A contact whose display name is exactly `display` (first word / rest)."""
        first, _, last = display.partition(" ")
        return await self.contact(first or display, last or None, display_name=display, **values)

    async def many_named(self, displays: list[str]) -> list[int]:
        """Many contacts in one statement (display name exactly as given)."""
        rows = [
            {
                "account_id": self.account_id,
                "first_name": d.partition(" ")[0] or d,
                "last_name": d.partition(" ")[2] or None,
                "display_name": d,
            }
            for d in displays
        ]
        ids = await self.session.scalars(insert(Contact).returning(Contact.id), rows)
        return [int(i) for i in ids]

    async def field_type(self, name: str) -> tuple[int, str]:
        row = (
            await self.session.execute(
                select(ContactFieldType.id, ContactFieldType.kind).where(
                    ContactFieldType.name == name, ContactFieldType.account_id.is_(None)
                )
            )
        ).one()
        return int(row.id), str(row.kind)

    async def field(
        self, contact_id: int, type_name: str, value: str, *, region: str | None = ""
    ) -> int:
        """A contact field written through `prepare` (region "" → the seeder's)."""
        type_id, kind = await self.field_type(type_name)
        prepared = prepare(kind, value, self.region if region == "" else region)
        return await self.row(
            ContactField,
            contact_id=contact_id,
            contact_field_type_id=type_id,
            value=prepared.value,
            match_key=prepared.match_key,
        )

    async def address(
        self, contact_id: int, line1: str | None, postal_code: str | None, **values: Any
    ) -> int:
        return await self.row(
            Address,
            contact_id=contact_id,
            line1=line1,
            postal_code=postal_code,
            match_key=prepare_address(line1, postal_code),
            **values,
        )

    async def row(self, model: Any, **values: Any) -> int:
        """Insert one row of `model` in this account; returns its id (or 0 without one)."""
        values.setdefault("account_id", self.account_id)
        table = model.__table__
        if "id" in table.c:
            return int(
                await self.session.scalar(insert(model).values(**values).returning(table.c.id)) or 0
            )
        await self.session.execute(insert(model).values(**values))
        return 0

    async def relationship_type(self, name: str) -> int:
        return int(
            await self.session.scalar(
                select(RelationshipType.id).where(
                    RelationshipType.name == name, RelationshipType.account_id.is_(None)
                )
            )
            or 0
        )

    async def life_event_type(self) -> int:
        return int(
            await self.session.scalar(
                select(LifeEventType.id).where(LifeEventType.account_id.is_(None)).limit(1)
            )
            or 0
        )


async def new_account(
    session: AsyncSession, *, locale: str = "en", region: str | None = "US"
) -> Seeder:
    """A fresh account with its admin; flushed, not committed."""
    account, user = await create_account(
        session, name="Dedup test", email=f"{uuid.uuid4().hex}@example.com", locale=locale
    )
    return Seeder(session, account.id, user.id, account.generation, region)
