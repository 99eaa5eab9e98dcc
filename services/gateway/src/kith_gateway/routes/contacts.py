"""/v1/contacts: list, read, create, edit, soft delete, restore; fields and addresses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from kith_gateway.deps import Editor, Session, Viewer
from kith_gateway.pagination import DEFAULT_LIMIT, Cursor, Limit, WithTotal
from kith_gateway.schemas.common import Page
from kith_gateway.schemas.contacts import (
    AddressIn,
    AddressOut,
    ContactIn,
    ContactOut,
    ContactPatch,
    ContactSummary,
    FieldIn,
    FieldOut,
    FieldPatch,
)
from kith_gateway.services import contact_fields, contacts

router = APIRouter(prefix="/contacts", tags=["contacts"])

Id = Annotated[int, Path(ge=1, le=2**62)]


@router.get("", response_model=Page[ContactSummary])
async def list_contacts(
    session: Session,
    caller: Viewer,
    q: Annotated[
        str | None, Query(max_length=200, description="Search names, company, emails, phones.")
    ] = None,
    trashed: Annotated[bool, Query(description="List the trash instead.")] = False,
    favorite: bool | None = None,
    archived: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    with_total: WithTotal = False,
) -> Page[ContactSummary]:
    return await contacts.list_contacts(
        session,
        caller,
        q=q,
        trashed=trashed,
        favorite=favorite,
        archived=archived,
        cursor=cursor,
        limit=limit,
        with_total=with_total,
    )


@router.post("", response_model=ContactOut, status_code=status.HTTP_201_CREATED)
async def create_contact(session: Session, caller: Editor, body: ContactIn) -> ContactOut:
    return await contacts.create_contact(session, caller, body)


@router.get("/{contact_id}", response_model=ContactOut)
async def get_contact(session: Session, caller: Viewer, contact_id: Id) -> ContactOut:
    return await contacts.get_contact(session, caller, contact_id)


@router.patch("/{contact_id}", response_model=ContactOut)
async def patch_contact(
    session: Session, caller: Editor, contact_id: Id, body: ContactPatch
) -> ContactOut:
    return await contacts.patch_contact(session, caller, contact_id, body)


@router.delete("/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact(session: Session, caller: Editor, contact_id: Id) -> Response:
    await contacts.delete_contact(session, caller, contact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{contact_id}/restore", response_model=ContactOut)
async def restore_contact(session: Session, caller: Editor, contact_id: Id) -> ContactOut:
    return await contacts.restore_contact(session, caller, contact_id)


@router.post("/{contact_id}/fields", response_model=FieldOut, status_code=status.HTTP_201_CREATED)
async def add_field(session: Session, caller: Editor, contact_id: Id, body: FieldIn) -> FieldOut:
    return await contact_fields.add_field(session, caller, contact_id, body)


@router.patch("/{contact_id}/fields/{field_id}", response_model=FieldOut)
async def patch_field(
    session: Session, caller: Editor, contact_id: Id, field_id: Id, body: FieldPatch
) -> FieldOut:
    return await contact_fields.patch_field(session, caller, contact_id, field_id, body)


@router.delete("/{contact_id}/fields/{field_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_field(session: Session, caller: Editor, contact_id: Id, field_id: Id) -> Response:
    await contact_fields.delete_field(session, caller, contact_id, field_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{contact_id}/addresses", response_model=AddressOut, status_code=status.HTTP_201_CREATED
)
async def add_address(
    session: Session, caller: Editor, contact_id: Id, body: AddressIn
) -> AddressOut:
    return await contact_fields.add_address(session, caller, contact_id, body)


@router.patch("/{contact_id}/addresses/{address_id}", response_model=AddressOut)
async def patch_address(
    session: Session, caller: Editor, contact_id: Id, address_id: Id, body: AddressIn
) -> AddressOut:
    return await contact_fields.patch_address(session, caller, contact_id, address_id, body)


@router.delete("/{contact_id}/addresses/{address_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_address(
    session: Session, caller: Editor, contact_id: Id, address_id: Id
) -> Response:
    await contact_fields.delete_address(session, caller, contact_id, address_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
