"""Writing one vCard's contact (importer.md §12): create or update through import_records.

Domain code: an open session and plain values, never commits. Phones and emails go through
`kith_common.contact_fields.prepare` (E.164 once, at write time, with the import's region).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.contact_fields import EmptyFieldValue, prepare, prepare_address
from kith_common.db.models import Address, Contact, ContactField, ContactFieldType, Note
from kith_common.merge import display_name
from kith_importer import queries
from kith_importer.vcard.mapping import CardValues

__all__ = ["SOURCE", "VcardScope", "field_types", "write_card"]

SOURCE: Final = "vcard"


@dataclass(frozen=True, slots=True)
class VcardScope:
    account_id: int
    import_id: int
    user_id: int | None
    region: str | None
    email_type: int
    phone_type: int


async def field_types(session: AsyncSession) -> tuple[int, int]:
    """The seeded global email and phone contact field types (looked up by kind)."""
    found: dict[str, int] = {}
    for kind in ("email", "phone"):
        type_id = await session.scalar(
            select(ContactFieldType.id)
            .where(ContactFieldType.account_id.is_(None), ContactFieldType.kind == kind)
            .order_by(ContactFieldType.id)
            .limit(1)
        )
        assert type_id is not None, f"no seeded {kind} contact field type"
        found[kind] = int(type_id)
    return found["email"], found["phone"]


def _norm(value: str | None) -> str:
    return " ".join((value or "").lower().split())


async def write_card(session: AsyncSession, scope: VcardScope, sid: str, card: CardValues) -> str:
    """'created', 'updated' or 'skipped' (the local copy is soft-deleted)."""
    local = await queries.mapped(session, scope.account_id, SOURCE, "contact", sid)
    contact = None
    if local is not None:
        contact, _ = await queries.resolve_contact(session, scope.account_id, local)
    if contact is not None and contact.deleted_at is not None:
        return "skipped"
    scalars = {
        "first_name": card.first_name,
        "last_name": card.last_name,
        "nickname": card.nickname,
        "company": card.company,
        "job_title": card.job_title,
        "birthdate": card.birthdate,
        "birthdate_year_unknown": card.birthdate_year_unknown,
        "display_name": display_name(card.first_name, card.last_name, card.nickname),
    }
    outcome = "updated"
    if contact is None:
        contact = Contact(account_id=scope.account_id, **scalars)
        session.add(contact)
        outcome = "created"
    else:
        for name, value in scalars.items():
            setattr(contact, name, value)
    await session.flush()
    await queries.record(
        session,
        account_id=scope.account_id,
        import_id=scope.import_id,
        source=SOURCE,
        entity_type="contact",
        source_id=sid,
        local_type="contact",
        local_id=contact.id,
    )
    await _children(session, scope, contact.id, card)
    return outcome


async def _children(
    session: AsyncSession, scope: VcardScope, contact_id: int, card: CardValues
) -> None:
    fields = await session.execute(
        select(ContactField.contact_field_type_id, ContactField.value).where(
            ContactField.contact_id == contact_id
        )
    )
    have = {(t, v.lower()) for t, v in fields}
    for type_id, kind, entries in (
        (scope.email_type, "email", card.emails),
        (scope.phone_type, "phone", card.phones),
    ):
        for value, label in entries:
            try:
                prepared = prepare(kind, value, scope.region)
            except EmptyFieldValue:
                continue
            if (type_id, prepared.value.lower()) in have:
                continue
            have.add((type_id, prepared.value.lower()))
            session.add(
                ContactField(
                    account_id=scope.account_id,
                    contact_id=contact_id,
                    contact_field_type_id=type_id,
                    value=prepared.value,
                    label=label,
                    match_key=prepared.match_key,
                )
            )
    rows = await session.execute(
        select(Address.line1, Address.city, Address.country).where(Address.contact_id == contact_id)
    )
    places = {(_norm(a), _norm(b), _norm(c)) for a, b, c in rows}
    for address in card.addresses:
        key = (_norm(address["line1"]), _norm(address["city"]), _norm(address["country"]))
        if key in places:
            continue
        places.add(key)
        session.add(
            Address(
                account_id=scope.account_id,
                contact_id=contact_id,
                match_key=prepare_address(address["line1"], address["postal_code"]),
                **address,
            )
        )
    bodies = {
        b.strip()
        for b in await session.scalars(select(Note.body).where(Note.contact_id == contact_id))
    }
    for body in card.notes:
        if body.strip() not in bodies:
            bodies.add(body.strip())
            session.add(
                Note(
                    account_id=scope.account_id,
                    contact_id=contact_id,
                    body=body,
                    author_id=scope.user_id,
                )
            )
