"""Loading and shaping contact rows, shared by the contact and field use cases."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import phones
from kith_common.db.models import Address, Contact, ContactField, ContactFieldType
from kith_common.errors import Conflict, NotFound
from kith_common.merge import names as merge_names
from kith_gateway.repositories import contacts as repo
from kith_gateway.schemas.contacts import AddressOut, ContactSummary, FieldOut


def display_name(
    first: str | None, middle: str | None, last: str | None, nickname: str | None
) -> str:
    """The one display-name rule (kith_common.merge.display_name), so merges agree."""
    del middle  # the shared rule is "First Last"
    return merge_names.display_name(first, last, nickname)


def summary(contact: Contact) -> ContactSummary:
    return ContactSummary.model_validate(contact, from_attributes=True)


def field_out(row: ContactField, kind_row: ContactFieldType, phone_format: str) -> FieldOut:
    formatted = (
        phones.format_number(row.value, phone_format or "e164")
        if kind_row.kind == "phone"
        else row.value
    )
    return FieldOut(
        id=row.id,
        type_id=kind_row.id,
        type=kind_row.key,
        type_name=kind_row.name,
        kind=kind_row.kind,
        value=row.value,
        formatted=formatted,
        label=row.label,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def address_out(row: Address) -> AddressOut:
    return AddressOut.model_validate(row, from_attributes=True)


async def load(
    session: AsyncSession, account_id: int, contact_id: int, *, lock: bool = False
) -> Contact:
    contact = await repo.get(session, account_id, contact_id, lock=lock)
    if contact is None:
        raise NotFound("no such contact", code="contact-not-found")
    return contact


async def load_live(session: AsyncSession, account_id: int, contact_id: int) -> Contact:
    """A contact that may be edited: exists in the account, locked, not in the trash."""
    contact = await load(session, account_id, contact_id, lock=True)
    if contact.deleted_at is not None:
        raise Conflict("the contact is in the trash; restore it first", code="contact-deleted")
    return contact
