"""What a person decides a duplicate pair on, for both contacts of a page of pairs (issue 18).

For each contact: emails, phones (stored value and the account's display format), company,
job title, birthday, first address (line 1 and city), how many notes, calls and photos it
has, and where it came from (the import that wrote it, or created by hand) and when. One
statement per kind for the whole page (≤ 400 contacts), never one per contact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import (
    Address,
    Call,
    Contact,
    ContactField,
    ContactFieldType,
    Import,
    ImportRecord,
    Note,
    Photo,
)
from kith_common.phones import format_number

__all__ = ["ContactSide", "side_fields", "sides_of"]


@dataclass(slots=True)
class ContactSide:
    """One contact as the review card shows it."""

    id: int
    job_title: str | None = None
    birthdate: dt.date | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[dict[str, str | None]] = field(default_factory=list)
    address: dict[str, str | None] | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"notes": 0, "calls": 0, "photos": 0})
    origin: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_title": self.job_title,
            "birthdate": self.birthdate,
            "emails": self.emails,
            "phones": self.phones,
            "address": self.address,
            "counts": self.counts,
            "origin": self.origin,
        }


async def sides_of(
    session: AsyncSession, account_id: int, contact_ids: Iterable[int], phone_format: str
) -> dict[int, ContactSide]:
    """The decision fields of the given contacts of the account (any status, live or not)."""
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    sides: dict[int, ContactSide] = {}
    rows = await session.execute(
        select(Contact.id, Contact.job_title, Contact.birthdate, Contact.created_at).where(
            Contact.account_id == account_id, Contact.id.in_(ids)
        )
    )
    created: dict[int, dt.datetime] = {}
    for cid, job_title, birthdate, created_at in rows.all():
        sides[cid] = ContactSide(cid, job_title, birthdate)
        created[cid] = created_at
    await _fields(session, account_id, ids, sides, phone_format)
    await _addresses(session, account_id, ids, sides)
    await _counts(session, account_id, ids, sides)
    await _origins(session, account_id, ids, sides, created)
    return sides


async def _fields(
    session: AsyncSession,
    account_id: int,
    ids: list[int],
    sides: Mapping[int, ContactSide],
    phone_format: str,
) -> None:
    rows = await session.execute(
        select(ContactField.contact_id, ContactFieldType.kind, ContactField.value)
        .join(ContactFieldType, ContactFieldType.id == ContactField.contact_field_type_id)
        .where(
            ContactField.account_id == account_id,
            ContactField.contact_id.in_(ids),
            ContactFieldType.kind.in_(("email", "phone")),
        )
        .order_by(ContactField.contact_id, ContactField.id)
    )
    for cid, kind, value in rows.all():
        side = sides.get(cid)
        if side is None:
            continue
        if kind == "email":
            side.emails.append(value)
        else:
            side.phones.append({"value": value, "formatted": format_number(value, phone_format)})


async def _addresses(
    session: AsyncSession, account_id: int, ids: list[int], sides: Mapping[int, ContactSide]
) -> None:
    rows = await session.execute(
        select(Address.contact_id, Address.line1, Address.city)
        .where(Address.account_id == account_id, Address.contact_id.in_(ids))
        .ext(distinct_on(Address.contact_id))
        .order_by(Address.contact_id, Address.id)
    )
    for cid, line1, city in rows.all():
        if cid in sides:
            sides[cid].address = {"line1": line1, "city": city}


async def _counts(
    session: AsyncSession, account_id: int, ids: list[int], sides: Mapping[int, ContactSide]
) -> None:
    for kind, model in (("notes", Note), ("calls", Call), ("photos", Photo)):
        rows = await session.execute(
            select(model.contact_id, func.count())
            .where(model.account_id == account_id, model.contact_id.in_(ids))
            .group_by(model.contact_id)
        )
        for cid, n in rows.all():
            if cid in sides:
                sides[cid].counts[kind] = int(n)


async def _origins(
    session: AsyncSession,
    account_id: int,
    ids: list[int],
    sides: Mapping[int, ContactSide],
    created: Mapping[int, dt.datetime],
) -> None:
    """The first import that wrote each contact; none: created by hand (or by a merge)."""
    rows = await session.execute(
        select(ImportRecord.local_entity_id, ImportRecord.import_id, Import.source)
        .outerjoin(
            Import,
            and_(Import.account_id == ImportRecord.account_id, Import.id == ImportRecord.import_id),
        )
        .where(
            ImportRecord.account_id == account_id,
            ImportRecord.local_entity_type == "contact",
            ImportRecord.local_entity_id.in_(ids),
        )
        .ext(distinct_on(ImportRecord.local_entity_id))
        .order_by(ImportRecord.local_entity_id, ImportRecord.id)
    )
    imported = {cid: (import_id, source) for cid, import_id, source in rows.all()}
    for cid, side in sides.items():
        found = imported.get(cid)
        if found is None:
            side.origin = {"kind": "manual", "import_id": None, "source": None}
        else:
            side.origin = {"kind": "import", "import_id": found[0], "source": found[1]}
        side.origin["at"] = created.get(cid)


def side_fields(side: ContactSide | None) -> dict[str, Any]:
    """A side's fields for the API's nested shape (empty ones when the contact is gone)."""
    return (side or ContactSide(0)).as_dict()
