"""Test helpers shared by the importer's package tests, the cross-process tests and bench/.

`snapshot` renders an account's imported data in a form independent of local ids and
timestamps, so "the end state equals an uninterrupted run's" is one equality.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import imports
from kith_common.crypto import encrypt_secret
from kith_common.db.models import (
    Address,
    Contact,
    ContactField,
    ContactTag,
    Import,
    ImportConnectionCheck,
    ImportRecord,
    Note,
    Outbox,
    Relationship,
    Tag,
)
from kith_common.db.session import PUBLISHES_INFO_KEY
from kith_common.events import subjects
from kith_common.events.parties import publishes
from kith_common.events.payloads.imports import CheckConnection
from kith_common.events.registry import build_envelope, parse_reply
from kith_common.service import Runtime

__all__ = ["KEY", "check_connection", "create", "progress_events", "snapshot", "wait_for"]

KEY = bytes(range(32))


async def create(
    sessions: async_sessionmaker[AsyncSession],
    account: tuple[int, int],
    url: str,
    *,
    token: str = "test-token",  # noqa: S107  # the fake's seeded token
    options: dict[str, Any] | None = None,
    encryption_key: bytes = KEY,
) -> int:
    """Create an import the way the gateway does (row + start command, one transaction).

    `sessions` may be an importer runtime's, which may not publish the start command: the row
    is written through sessions of the same engine and stream prefix that publish as the
    gateway, the command's producer.
    """
    as_gateway = async_sessionmaker(
        sessions.kw["bind"],
        expire_on_commit=False,
        info={**sessions.kw.get("info", {}), PUBLISHES_INFO_KEY: publishes("gateway")},
    )
    async with as_gateway() as session, session.begin():
        row = await imports.create_import(
            session,
            account_id=account[0],
            user_id=account[1],
            encryption_key=encryption_key,
            api_url=url,
            api_key=token,
            options=options or {},
        )
    return row.id


async def wait_for(
    sessions: async_sessionmaker[AsyncSession],
    import_id: int,
    statuses: tuple[str, ...] = ("completed", "failed", "cancelled"),
    *,
    timeout: float = 60.0,  # noqa: ASYNC109  # a polling deadline, not an I/O timeout
) -> Import:
    """Poll until the crawl status is one of `statuses` (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        async with sessions() as session:
            row = await session.get(Import, import_id)
        assert row is not None
        if row.status in statuses:
            return row
        if time.monotonic() > deadline:
            msg = f"import {import_id} still {row.status} after {timeout} s: {row.summary}"
            raise AssertionError(msg)
        await asyncio.sleep(0.1)


async def snapshot(sessions: async_sessionmaker[AsyncSession], account_id: int) -> dict[str, Any]:
    """The account's contacts and children, keyed by names and values instead of ids."""
    async with sessions() as session:
        contacts = (
            await session.scalars(select(Contact).where(Contact.account_id == account_id))
        ).all()
        records = await session.execute(
            select(ImportRecord.local_entity_id, ImportRecord.source_entity_id).where(
                ImportRecord.account_id == account_id,
                ImportRecord.source_entity_type == "contact",
            )
        )
        monica: dict[int, int] = {}
        for local, source_id in records:
            monica[local] = min(monica.get(local, 10**12), int(source_id))
        names = {c.id: f"m{monica.get(c.id, 0)}:{c.first_name}|{c.last_name}" for c in contacts}
        fields = await session.execute(
            select(ContactField.contact_id, ContactField.value, ContactField.label).where(
                ContactField.account_id == account_id
            )
        )
        addresses = await session.execute(
            select(Address.contact_id, Address.line1, Address.city).where(
                Address.account_id == account_id
            )
        )
        notes = await session.execute(
            select(Note.contact_id, Note.body).where(Note.account_id == account_id)
        )
        relationships = await session.execute(
            select(
                Relationship.contact_id,
                Relationship.related_contact_id,
                Relationship.relationship_type_id,
            ).where(Relationship.account_id == account_id)
        )
        tags = await session.execute(
            select(ContactTag.contact_id, Tag.name)
            .join(Tag, Tag.id == ContactTag.tag_id)
            .where(ContactTag.account_id == account_id)
        )
    return {
        "contacts": sorted(
            (
                names[c.id],
                c.is_partial,
                c.deleted_at is not None,
                names.get(c.merged_into_id) if c.merged_into_id else None,
                names.get(c.first_met_through_id) if c.first_met_through_id else None,
                str(c.birthdate),
            )
            for c in contacts
        ),
        "fields": sorted((names[c], v, label or "") for c, v, label in fields),
        "addresses": sorted((names[c], a or "", b or "") for c, a, b in addresses),
        "notes": sorted((names[c], b) for c, b in notes),
        "relationships": sorted((names[a], names[b], t) for a, b, t in relationships),
        "tags": sorted((names[c], t) for c, t in tags),
    }


async def progress_events(
    sessions: async_sessionmaker[AsyncSession], account_id: int
) -> list[dict[str, Any]]:
    """The `import.progress` payloads the account's imports committed, in commit order."""
    async with sessions() as session:
        envelopes = (
            await session.scalars(
                select(Outbox.envelope)
                .where(Outbox.account_id == account_id, Outbox.subject == subjects.IMPORT_PROGRESS)
                .order_by(Outbox.seq)
            )
        ).all()
    return [e["data"] for e in envelopes]


async def check_connection(
    importer: Runtime,
    sessions: async_sessionmaker[AsyncSession],
    account: tuple[int, int],
    url: str,
    key: str,
) -> tuple[uuid.UUID, dict[str, Any]]:
    """Ask a running importer for a connection check the way the gateway does.

    The check row (URL, encrypted key) first, then the core-NATS request naming only its id;
    returns the check id and the reply's payload.
    """
    check_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        session.add(
            ImportConnectionCheck(
                id=check_id,
                account_id=account[0],
                api_url=url,
                api_key_encrypted=encrypt_secret(KEY, key),
                expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
            )
        )
    envelope = build_envelope(
        subjects.RPC_IMPORT_CHECK_CONNECTION,
        CheckConnection(check_id=check_id),
        account_id=account[0],
        generation=None,
    )
    assert importer.nc is not None
    reply = await importer.nc.request(
        importer.layout.subject(subjects.RPC_IMPORT_CHECK_CONNECTION),
        envelope.model_dump_json().encode(),
        timeout=15,
    )
    return check_id, parse_reply(subjects.RPC_IMPORT_CHECK_CONNECTION, reply.data).data.model_dump()
