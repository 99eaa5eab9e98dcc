"""Test support for the photos service: a completed Monica import whose contacts are mapped
to a fake Monica world, and a `MediaEnv` that runs the phase outside the bus.

Used by this package's tests, the cross-process tests in `tests/photos/` and `bench/photos/`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence
from kith_common.accounts import create_account
from kith_common.bus import outbox
from kith_common.crypto import encrypt_secret
from kith_common.db.models import Contact, Import, Outbox
from kith_common.events.envelope import Payload
from kith_common.events.registry import build_envelope
from kith_common.monica.urls import normalize_api_url, source_name
from kith_common.storage import Storage
from kith_photos import queries
from kith_photos.sync import MediaEnv, MediaLimits

__all__ = [
    "FAKE_TOKEN",
    "SeededImport",
    "direct_env",
    "drained",
    "import_row",
    "outbox_types",
    "seed_import",
    "set_media_status",
    "test_limits",
]

TEST_ENCRYPTION_KEY = b"k" * 32
FAKE_TOKEN = "photos-token"  # noqa: S105  # the fake Monica's test token


def test_limits(**overrides: Any) -> MediaLimits:
    values: dict[str, Any] = {
        "encryption_key": TEST_ENCRYPTION_KEY,
        "photo_max_bytes": 20 * 1024 * 1024,
        "document_max_bytes": 50 * 1024 * 1024,
        "photo_page_max_bytes": 64 * 1024 * 1024,
        "response_max_bytes": 32 * 1024 * 1024,
        "allow_private": True,
        "rate_limit_per_minute": 0,
    }
    values.update(overrides)
    return MediaLimits(**values)


test_limits.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


@dataclass
class SeededImport:
    """An account with a completed Monica import; `contacts` maps Monica id → local id."""

    account_id: int
    user_id: int
    generation: int
    import_id: int
    source: str
    contacts: dict[int, int] = field(default_factory=dict)


async def seed_import(
    sessions: async_sessionmaker[AsyncSession],
    *,
    api_url: str,
    api_key: str,
    monica_contacts: Iterable[int],
    options: dict[str, Any] | None = None,
    encryption_key: bytes = TEST_ENCRYPTION_KEY,
    misc_status: str | None = None,
    media_status: str | None = "pending",
) -> SeededImport:
    """Write an account, one local contact per Monica contact (mapped), and the import row."""
    source = source_name(api_url)
    async with sessions() as session, session.begin():
        account, user = await create_account(
            session, name="Photos test", email=f"photos-{uuid.uuid4().hex[:12]}@example.org"
        )
        row = Import(
            account_id=account.id,
            user_id=user.id,
            source="monica_api",
            generation=account.generation,
            status="completed",
            misc_status=misc_status,
            media_status=media_status,
            api_url=normalize_api_url(api_url),
            api_key_encrypted=encrypt_secret(encryption_key, api_key)
            if media_status in ("pending", "processing") or misc_status in ("pending", "processing")
            else None,
            options={"photos": True, "documents": False, **(options or {})},
        )
        session.add(row)
        await session.flush()
        seeded = SeededImport(account.id, user.id, account.generation, row.id, source)
        for monica_id in monica_contacts:
            contact = Contact(
                account_id=account.id, first_name=f"M{monica_id}", display_name=f"M{monica_id}"
            )
            session.add(contact)
            await session.flush()
            await queries.upsert_record(
                session,
                account_id=account.id,
                import_id=row.id,
                source=source,
                entity_type="contact",
                source_id=str(monica_id),
                local_id=contact.id,
            )
            seeded.contacts[monica_id] = contact.id
    return seeded


def direct_env(
    sessions: async_sessionmaker[AsyncSession],
    storage: Storage,
    limits: MediaLimits,
    *,
    account_id: int,
    generation: int,
) -> MediaEnv:
    """A MediaEnv as the bus wrapper builds it: fenced transactions, publishing to the outbox."""

    @contextlib.asynccontextmanager
    async def unit_of_work() -> AsyncIterator[AsyncSession]:
        async with sessions() as session, session.begin():
            await fence.hold(session, account_id, generation)
            yield session

    async def publish(session: AsyncSession, subject: str, data: Payload) -> None:
        envelope = build_envelope(subject, data, account_id=account_id, generation=generation)
        await outbox.add(session, subject, envelope)

    async def heartbeat() -> None:
        return None

    return MediaEnv(
        unit_of_work=unit_of_work,
        publish=publish,
        heartbeat=heartbeat,
        sessions=sessions,
        storage=storage,
        limits=limits,
    )


async def outbox_types(sessions: async_sessionmaker[AsyncSession], account_id: int) -> list[str]:
    """The subjects this account published, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(Outbox.subject).where(Outbox.account_id == account_id).order_by(Outbox.seq)
        )
        return list(rows.all())


async def import_row(sessions: async_sessionmaker[AsyncSession], import_id: int) -> Import:
    async with sessions() as session:
        row = await session.scalar(select(Import).where(Import.id == import_id))
        assert row is not None
        return row


async def set_media_status(
    sessions: async_sessionmaker[AsyncSession], import_id: int, status: str, api_key: str | None
) -> None:
    async with sessions() as session, session.begin():
        values: dict[str, Any] = {"media_status": status}
        if api_key is not None:
            values["api_key_encrypted"] = encrypt_secret(TEST_ENCRYPTION_KEY, api_key)
        await session.execute(update(Import).where(Import.id == import_id).values(**values))


async def drained(js: JetStreamContext, prefix: str, stream: str, durable: str) -> bool:
    """True once the durable has nothing pending and nothing unacked."""
    info = await js.consumer_info(f"{prefix}_{stream}", durable)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq)
