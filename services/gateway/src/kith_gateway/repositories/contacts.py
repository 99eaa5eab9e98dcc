"""contacts, contact_fields, addresses, tags and photos of one account (reads and user edits).

Every query names the account, so another account's id simply finds nothing (404).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import (
    Address,
    Contact,
    ContactField,
    ContactFieldType,
    ContactTag,
    Photo,
    Tag,
)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def page(
    session: AsyncSession,
    account_id: int,
    *,
    q: str | None,
    phone: str | None,
    trashed: bool,
    favorite: bool | None,
    archived: bool | None,
    after: tuple[str, int] | None,
    limit: int,
    before: tuple[str, int] | None = None,
) -> Sequence[Contact]:
    """Up to limit + 1 contacts in (display_name, id) order after `after`, or, with `before`,
    the limit + 1 just before it, nearest first (the same index read backwards)."""
    query = _filtered(
        account_id, q=q, phone=phone, trashed=trashed, favorite=favorite, archived=archived
    )
    if before is not None:
        query = query.where(tuple_(Contact.display_name, Contact.id) < tuple_(*before))
        query = query.order_by(Contact.display_name.desc(), Contact.id.desc())
        return (await session.scalars(query.limit(limit + 1))).all()
    if after is not None:
        query = query.where(tuple_(Contact.display_name, Contact.id) > tuple_(after[0], after[1]))
    query = query.order_by(Contact.display_name, Contact.id).limit(limit + 1)
    return (await session.scalars(query)).all()


async def count(
    session: AsyncSession,
    account_id: int,
    *,
    q: str | None,
    phone: str | None,
    trashed: bool,
    favorite: bool | None,
    archived: bool | None,
) -> int:
    """How many contacts the list with these filters holds (the console's "of N")."""
    query = _filtered(
        account_id, q=q, phone=phone, trashed=trashed, favorite=favorite, archived=archived
    )
    counted = query.with_only_columns(func.count(), maintain_column_froms=True)
    return int(await session.scalar(counted) or 0)


def _filtered(
    account_id: int,
    *,
    q: str | None,
    phone: str | None,
    trashed: bool,
    favorite: bool | None,
    archived: bool | None,
) -> Select[Contact]:
    query = select(Contact).where(Contact.account_id == account_id)
    query = query.where(
        Contact.deleted_at.is_not(None) if trashed else Contact.deleted_at.is_(None)
    )
    if favorite is not None:
        query = query.where(Contact.favorite.is_(favorite))
    if archived is not None:
        query = query.where(Contact.is_archived.is_(archived))
    if q:
        pattern = _like(q)
        field_match: list[ColumnElement[bool]] = [ContactField.value.ilike(pattern, escape="\\")]
        if phone:
            field_match.append(ContactField.value == phone)
        query = query.where(
            or_(
                Contact.display_name.ilike(pattern, escape="\\"),
                Contact.company.ilike(pattern, escape="\\"),
                exists().where(
                    ContactField.account_id == account_id,
                    ContactField.contact_id == Contact.id,
                    or_(*field_match),
                ),
            )
        )
    return query


async def get(
    session: AsyncSession, account_id: int, contact_id: int, *, lock: bool = False
) -> Contact | None:
    query = select(Contact).where(Contact.account_id == account_id, Contact.id == contact_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def insert_contact(session: AsyncSession, account_id: int, values: dict[str, Any]) -> Contact:
    contact = Contact(account_id=account_id, **values)
    session.add(contact)
    await session.flush()
    return contact


async def update_contact(session: AsyncSession, contact: Contact, values: dict[str, Any]) -> None:
    await session.execute(
        update(Contact)
        .where(Contact.account_id == contact.account_id, Contact.id == contact.id)
        .values(**values, updated_at=func.now())
    )
    await session.refresh(contact)


async def field_type(
    session: AsyncSession, account_id: int, *, type_id: int | None, key: str | None
) -> ContactFieldType | None:
    query = select(ContactFieldType).where(
        or_(ContactFieldType.account_id.is_(None), ContactFieldType.account_id == account_id)
    )
    if type_id is not None:
        query = query.where(ContactFieldType.id == type_id)
    else:
        query = query.where(ContactFieldType.key == key)
    return await session.scalar(query)


async def fields_of(
    session: AsyncSession, account_id: int, contact_id: int
) -> Sequence[tuple[ContactField, ContactFieldType]]:
    rows = await session.execute(
        select(ContactField, ContactFieldType)
        .join(ContactFieldType, ContactFieldType.id == ContactField.contact_field_type_id)
        .where(ContactField.account_id == account_id, ContactField.contact_id == contact_id)
        .order_by(ContactFieldType.position, ContactField.id)
    )
    return [(f, t) for f, t in rows.all()]


async def field(
    session: AsyncSession, account_id: int, contact_id: int, field_id: int
) -> tuple[ContactField, ContactFieldType] | None:
    row = (
        await session.execute(
            select(ContactField, ContactFieldType)
            .join(ContactFieldType, ContactFieldType.id == ContactField.contact_field_type_id)
            .where(
                ContactField.account_id == account_id,
                ContactField.contact_id == contact_id,
                ContactField.id == field_id,
            )
        )
    ).first()
    return (row[0], row[1]) if row else None


async def insert_field(session: AsyncSession, values: dict[str, Any]) -> ContactField:
    row = ContactField(**values)
    session.add(row)
    await session.flush()
    return row


async def update_field(session: AsyncSession, row: ContactField, values: dict[str, Any]) -> None:
    await session.execute(
        update(ContactField)
        .where(ContactField.account_id == row.account_id, ContactField.id == row.id)
        .values(**values, updated_at=func.now())
    )
    await session.refresh(row)


async def delete_field(session: AsyncSession, account_id: int, field_id: int) -> None:
    await session.execute(
        delete(ContactField).where(
            ContactField.account_id == account_id, ContactField.id == field_id
        )
    )


async def addresses_of(
    session: AsyncSession, account_id: int, contact_id: int
) -> Sequence[Address]:
    return (
        await session.scalars(
            select(Address)
            .where(Address.account_id == account_id, Address.contact_id == contact_id)
            .order_by(Address.id)
        )
    ).all()


async def address(
    session: AsyncSession, account_id: int, contact_id: int, address_id: int
) -> Address | None:
    return await session.scalar(
        select(Address).where(
            Address.account_id == account_id,
            Address.contact_id == contact_id,
            Address.id == address_id,
        )
    )


async def insert_address(session: AsyncSession, values: dict[str, Any]) -> Address:
    row = Address(**values)
    session.add(row)
    await session.flush()
    return row


async def update_address(session: AsyncSession, row: Address, values: dict[str, Any]) -> None:
    await session.execute(
        update(Address)
        .where(Address.account_id == row.account_id, Address.id == row.id)
        .values(**values, updated_at=func.now())
    )
    await session.refresh(row)


async def delete_address(session: AsyncSession, account_id: int, address_id: int) -> None:
    await session.execute(
        delete(Address).where(Address.account_id == account_id, Address.id == address_id)
    )


async def tags_of(session: AsyncSession, account_id: int, contact_id: int) -> Sequence[Tag]:
    return (
        await session.scalars(
            select(Tag)
            .join(
                ContactTag,
                and_(ContactTag.tag_id == Tag.id, ContactTag.account_id == Tag.account_id),
            )
            .where(ContactTag.account_id == account_id, ContactTag.contact_id == contact_id)
            .order_by(Tag.name)
        )
    ).all()


async def photos_of(session: AsyncSession, account_id: int, contact_id: int) -> Sequence[Photo]:
    return (
        await session.scalars(
            select(Photo)
            .where(Photo.account_id == account_id, Photo.contact_id == contact_id)
            .order_by(Photo.id)
        )
    ).all()
