"""Contact fields and addresses: values and match keys written through `prepare` only.

Phones are normalised with the account locale's default region (dedup.md §6.5) and returned
with `formatted` beside the stored value (§6.7). Each edit also touches the contact (its
`updated_at`) and writes a `contact_updated` audit entry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import phones
from kith_common.contact_fields import EmptyFieldValue, prepare, prepare_address
from kith_common.db.models import Address, Contact, ContactField, ContactFieldType
from kith_common.errors import InvalidInput, NotFound
from kith_gateway.deps import Principal
from kith_gateway.repositories import audit
from kith_gateway.repositories import contacts as repo
from kith_gateway.schemas.contacts import AddressIn, AddressOut, FieldIn, FieldOut, FieldPatch
from kith_gateway.services.accounts import load as load_account
from kith_gateway.services.contact_events import contact_updated
from kith_gateway.services.contact_rows import field_out, load_live
from kith_gateway.services.guards import writable


def _prepared(kind: str, value: str, region: str | None) -> dict[str, Any]:
    try:
        prepared = prepare(kind, value, region)
    except EmptyFieldValue as err:
        raise InvalidInput(
            "the value is blank", errors=[{"field": "value", "message": "must not be blank"}]
        ) from err
    return {"value": prepared.value, "match_key": prepared.match_key}


async def insert_field(
    session: AsyncSession, account_id: int, contact_id: int, item: FieldIn, region: str | None
) -> tuple[ContactField, ContactFieldType]:
    if item.type_id is None and item.type is None:
        raise InvalidInput(
            "a field needs a type", errors=[{"field": "type", "message": "give type or type_id"}]
        )
    kind_row = await repo.field_type(session, account_id, type_id=item.type_id, key=item.type)
    if kind_row is None:
        raise InvalidInput(
            "unknown field type", errors=[{"field": "type", "message": "no such field type"}]
        )
    values = _prepared(kind_row.kind, item.value, region)
    row = await repo.insert_field(
        session,
        {
            "account_id": account_id,
            "contact_id": contact_id,
            "contact_field_type_id": kind_row.id,
            "label": item.label,
            **values,
        },
    )
    return row, kind_row


async def insert_address(
    session: AsyncSession, account_id: int, contact_id: int, item: AddressIn
) -> Address:
    values = _address_values(item.model_dump())
    values["match_key"] = prepare_address(values.get("line1"), values.get("postal_code"))
    return await repo.insert_address(
        session, {"account_id": account_id, "contact_id": contact_id, **values}
    )


def _address_values(values: dict[str, Any]) -> dict[str, Any]:
    if values.get("country"):
        values["country"] = values["country"].upper()
    return values


async def touch_contact(
    session: AsyncSession, principal: Principal, contact: Contact, what: str
) -> None:
    """A change of something the contact holds: its `updated_at` moves, and it is audited."""
    await repo.update_contact(session, contact, {})
    await audit.add(
        session,
        account_id=principal.account_id,
        user_id=principal.user_id,
        user_name=principal.name,
        event="contact_updated",
        contact_id=contact.id,
        contact_name=contact.display_name,
        metadata={"change": what},
    )
    await contact_updated(
        session, principal.account_id, contact.id, ["addresses" if "address" in what else "fields"]
    )


async def _editable(session: AsyncSession, principal: Principal, contact_id: int) -> Contact:
    await writable(session, principal.account_id)
    return await load_live(session, principal.account_id, contact_id)


async def add_field(
    session: AsyncSession, principal: Principal, contact_id: int, body: FieldIn
) -> FieldOut:
    contact = await _editable(session, principal, contact_id)
    account = await load_account(session, principal.account_id)
    row, kind_row = await insert_field(
        session, account.id, contact.id, body, phones.region_for_locale(account.locale)
    )
    await touch_contact(session, principal, contact, "field_added")
    await session.commit()
    return field_out(row, kind_row, account.phone_format)


async def patch_field(
    session: AsyncSession, principal: Principal, contact_id: int, field_id: int, body: FieldPatch
) -> FieldOut:
    contact = await _editable(session, principal, contact_id)
    account = await load_account(session, principal.account_id)
    found = await repo.field(session, account.id, contact.id, field_id)
    if found is None:
        raise NotFound("no such field", code="field-not-found")
    row, kind_row = found
    values = body.model_dump(exclude_unset=True)
    if "value" in values:
        if values["value"] is None:
            raise InvalidInput(
                "value cannot be null", errors=[{"field": "value", "message": "cannot be null"}]
            )
        values.update(
            _prepared(kind_row.kind, values["value"], phones.region_for_locale(account.locale))
        )
    if values:
        await repo.update_field(session, row, values)
        await touch_contact(session, principal, contact, "field_updated")
        await session.commit()
    return field_out(row, kind_row, account.phone_format)


async def delete_field(
    session: AsyncSession, principal: Principal, contact_id: int, field_id: int
) -> None:
    contact = await _editable(session, principal, contact_id)
    if await repo.field(session, principal.account_id, contact.id, field_id) is None:
        raise NotFound("no such field", code="field-not-found")
    await repo.delete_field(session, principal.account_id, field_id)
    await touch_contact(session, principal, contact, "field_deleted")
    await session.commit()


def _address_out(row: Address) -> AddressOut:
    return AddressOut.model_validate(row, from_attributes=True)


async def add_address(
    session: AsyncSession, principal: Principal, contact_id: int, body: AddressIn
) -> AddressOut:
    contact = await _editable(session, principal, contact_id)
    values = _address_values(body.model_dump())
    values["match_key"] = prepare_address(values.get("line1"), values.get("postal_code"))
    row = await repo.insert_address(
        session, {"account_id": principal.account_id, "contact_id": contact.id, **values}
    )
    await touch_contact(session, principal, contact, "address_added")
    await session.commit()
    return _address_out(row)


async def patch_address(
    session: AsyncSession, principal: Principal, contact_id: int, address_id: int, body: AddressIn
) -> AddressOut:
    contact = await _editable(session, principal, contact_id)
    row = await repo.address(session, principal.account_id, contact.id, address_id)
    if row is None:
        raise NotFound("no such address", code="address-not-found")
    values = _address_values(body.model_dump(exclude_unset=True))
    if values:
        line1 = values.get("line1", row.line1)
        postal = values.get("postal_code", row.postal_code)
        values["match_key"] = prepare_address(line1, postal)
        await repo.update_address(session, row, values)
        await touch_contact(session, principal, contact, "address_updated")
        await session.commit()
    return _address_out(row)


async def delete_address(
    session: AsyncSession, principal: Principal, contact_id: int, address_id: int
) -> None:
    contact = await _editable(session, principal, contact_id)
    if await repo.address(session, principal.account_id, contact.id, address_id) is None:
        raise NotFound("no such address", code="address-not-found")
    await repo.delete_address(session, principal.account_id, address_id)
    await touch_contact(session, principal, contact, "address_deleted")
    await session.commit()
