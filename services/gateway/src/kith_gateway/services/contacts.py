"""Contact use cases: list and search, read, create, edit, soft delete and restore.

Writes pass `guards.writable` (fence + 409 while a reset runs) and write their audit entry in
the same transaction. A contact in the trash is read-only until restored; one merged away
(`merged_into_id`) cannot be restored (409), since its data now lives in the survivor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import phones
from kith_common.db.models import Account, Contact
from kith_common.errors import Conflict
from kith_common.events import subjects
from kith_gateway import pagination
from kith_gateway.deps import Principal
from kith_gateway.repositories import audit
from kith_gateway.repositories import contacts as repo
from kith_gateway.schemas.common import Page, PageMeta
from kith_gateway.schemas.contacts import (
    ContactIn,
    ContactOut,
    ContactPatch,
    ContactSummary,
    PhotoOut,
    TagOut,
)
from kith_gateway.services import contact_fields
from kith_gateway.services.accounts import load as load_account
from kith_gateway.services.contact_events import contact_changed, contact_updated
from kith_gateway.services.contact_rows import (
    address_out,
    display_name,
    field_out,
    load,
    load_live,
    summary,
)
from kith_gateway.services.guards import writable
from kith_gateway.services.timeline import counts as record_counts

_NAME_PARTS = ("first_name", "middle_name", "last_name")
_CURSOR = "contacts"


async def list_contacts(
    session: AsyncSession,
    principal: Principal,
    *,
    q: str | None,
    trashed: bool,
    favorite: bool | None,
    archived: bool | None,
    cursor: str | None,
    limit: int,
    with_total: bool = False,
) -> Page[ContactSummary]:
    key = pagination.decode(cursor, _CURSOR, {"n": str, "i": int})
    phone = None
    if q:
        account = await load_account(session, principal.account_id)
        normalized = phones.normalize(q, phones.region_for_locale(account.locale))
        phone = normalized if normalized and normalized.startswith("+") else None
    filters: dict[str, Any] = {
        "q": q.strip() if q else None,
        "phone": phone,
        "trashed": trashed,
        "favorite": favorite,
        "archived": archived,
    }

    async def after(k: dict[str, Any] | None) -> Sequence[Contact]:
        start = (k["n"], k["i"]) if k else None
        return await repo.page(session, principal.account_id, after=start, limit=limit, **filters)

    async def before(k: dict[str, Any]) -> Sequence[Contact]:
        return await repo.page(
            session,
            principal.account_id,
            after=None,
            before=(k["n"], k["i"]),
            limit=limit,
            **filters,
        )

    found = await pagination.window(key, limit, after, before)
    rows = found.rows
    first, last = (rows[0], rows[-1]) if rows else (None, None)
    meta = PageMeta(
        next_cursor=pagination.encode(_CURSOR, n=last.display_name, i=last.id)
        if found.has_next and last
        else None,
        has_more=found.has_next,
        prev_cursor=pagination.encode_before(_CURSOR, n=first.display_name, i=first.id)
        if found.has_prev and first
        else None,
        total=await repo.count(session, principal.account_id, **filters) if with_total else None,
    )
    return Page(data=[summary(c) for c in rows], meta=meta)


async def detail(session: AsyncSession, account: Account, contact: Contact) -> ContactOut:
    fields = await repo.fields_of(session, account.id, contact.id)
    addresses = await repo.addresses_of(session, account.id, contact.id)
    tags = await repo.tags_of(session, account.id, contact.id)
    photos = await repo.photos_of(session, account.id, contact.id)
    base = ContactSummary.model_validate(contact, from_attributes=True).model_dump()
    extra = {
        name: getattr(contact, name)
        for name in ContactOut.model_fields
        if name not in base and name not in {"fields", "addresses", "tags", "photos", "counts"}
    }
    return ContactOut(
        **base,
        **extra,
        fields=[field_out(f, t, account.phone_format) for f, t in fields],
        addresses=[address_out(a) for a in addresses],
        tags=[TagOut(id=t.id, name=t.name, color=t.color) for t in tags],
        photos=[
            PhotoOut(
                id=p.id,
                file_name=p.file_name,
                content_type=p.content_type,
                size_bytes=p.size_bytes,
                is_private=p.is_private,
                is_avatar=p.id == contact.avatar_photo_id,
                content_url=f"/v1/photos/{p.id}/content",
            )
            for p in photos
        ],
        counts=await record_counts(session, account.id, contact.id),
    )


async def get_contact(session: AsyncSession, principal: Principal, contact_id: int) -> ContactOut:
    account = await load_account(session, principal.account_id)
    return await detail(session, account, await load(session, principal.account_id, contact_id))


def _values(body: ContactIn | ContactPatch) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True, exclude={"fields", "addresses"})
    # Booleans are NOT NULL: an explicit null means "leave as is".
    for flag in ("birthdate_year_unknown", "favorite", "is_archived", "deceased"):
        if flag in values and values[flag] is None:
            values.pop(flag)
    if "first_name" in values:
        if values["first_name"] is None:
            values.pop("first_name")
        else:
            values["first_name"] = values["first_name"].strip()
    return values


async def create_contact(
    session: AsyncSession, principal: Principal, body: ContactIn
) -> ContactOut:
    await writable(session, principal.account_id)
    account = await load_account(session, principal.account_id)
    values = _values(body)
    values["display_name"] = display_name(
        values.get("first_name"),
        values.get("middle_name"),
        values.get("last_name"),
        values.get("nickname"),
    )
    contact = await repo.insert_contact(session, principal.account_id, values)
    region = phones.region_for_locale(account.locale)
    for item in body.fields:
        await contact_fields.insert_field(session, account.id, contact.id, item, region)
    for item_address in body.addresses:
        await contact_fields.insert_address(session, account.id, contact.id, item_address)
    await audit.add(
        session,
        account_id=account.id,
        user_id=principal.user_id,
        user_name=principal.name,
        event="contact_created",
        contact_id=contact.id,
        contact_name=contact.display_name,
    )
    await contact_changed(session, account.id, subjects.CONTACT_CREATED, contact.id)
    await session.commit()
    return await detail(session, account, contact)


async def patch_contact(
    session: AsyncSession, principal: Principal, contact_id: int, body: ContactPatch
) -> ContactOut:
    await writable(session, principal.account_id)
    account = await load_account(session, principal.account_id)
    contact = await load_live(session, principal.account_id, contact_id)
    values = _values(body)
    if values:
        if any(name in values for name in (*_NAME_PARTS, "nickname")):
            merged = {n: values.get(n, getattr(contact, n)) for n in (*_NAME_PARTS, "nickname")}
            values["display_name"] = display_name(
                merged["first_name"], merged["middle_name"], merged["last_name"], merged["nickname"]
            )
        await repo.update_contact(session, contact, values)
        await audit.add(
            session,
            account_id=account.id,
            user_id=principal.user_id,
            user_name=principal.name,
            # data-model §3.4 names archiving as its own audit event.
            event="contact_archived" if values.get("is_archived") is True else "contact_updated",
            contact_id=contact.id,
            contact_name=contact.display_name,
            metadata={"fields": sorted(values)},
        )
        await contact_updated(session, account.id, contact.id, values)
        await session.commit()
    return await detail(session, account, contact)


async def delete_contact(session: AsyncSession, principal: Principal, contact_id: int) -> None:
    """Soft delete (to the trash); deleting a contact already in the trash changes nothing."""
    await writable(session, principal.account_id)
    contact = await load(session, principal.account_id, contact_id, lock=True)
    if contact.deleted_at is not None:
        return
    await repo.update_contact(session, contact, {"deleted_at": dt.datetime.now(dt.UTC)})
    await audit.add(
        session,
        account_id=principal.account_id,
        user_id=principal.user_id,
        user_name=principal.name,
        event="contact_deleted",
        contact_id=contact.id,
        contact_name=contact.display_name,
    )
    await contact_changed(session, principal.account_id, subjects.CONTACT_DELETED, contact.id)
    await session.commit()


async def restore_contact(
    session: AsyncSession, principal: Principal, contact_id: int
) -> ContactOut:
    await writable(session, principal.account_id)
    account = await load_account(session, principal.account_id)
    contact = await load(session, principal.account_id, contact_id, lock=True)
    if contact.merged_into_id is not None:
        raise Conflict(
            f"the contact was merged into contact {contact.merged_into_id}", code="contact-merged"
        )
    if contact.deleted_at is not None:
        await repo.update_contact(session, contact, {"deleted_at": None})
        await audit.add(
            session,
            account_id=account.id,
            user_id=principal.user_id,
            user_name=principal.name,
            event="contact_restored",
            contact_id=contact.id,
            contact_name=contact.display_name,
        )
        await contact_changed(session, account.id, subjects.CONTACT_RESTORED, contact.id)
        await session.commit()
    return await detail(session, account, contact)
