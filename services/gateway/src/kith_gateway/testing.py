"""Test helpers for the gateway's own tests and benchmarks: accounts with one user per role.

Everything goes through kith_common's real account and token functions, so a test's caller
is exactly what `kith admin create-account` would produce.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.accounts import create_account, issue_api_token, issue_operator_token
from kith_common.db.models import (
    Activity,
    ActivityContact,
    Call,
    Conversation,
    Debt,
    Document,
    Gift,
    JournalEntry,
    LifeEvent,
    Message,
    Note,
    Pet,
    Photo,
    Relationship,
    Reminder,
    Task,
    User,
)
from kith_common.ports import free_port
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.storage import Storage, account_prefix
from kith_common.testing import eventually
from kith_common.testing.fake_monica.generator import png_bytes


@dataclass
class TestAccount:
    """An account with an admin, an editor and a viewer, each with a token."""

    __test__ = False  # not a pytest class

    id: int
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


async def make_account(
    sessions: async_sessionmaker[AsyncSession], *, locale: str = "en", name: str = "Test"
) -> TestAccount:
    tag = uuid.uuid4().hex[:12]
    async with sessions() as session, session.begin():
        account, admin = await create_account(
            session, name=name, email=f"admin-{tag}@example.com", locale=locale
        )
        result = TestAccount(id=account.id)
        result.tokens["admin"] = await issue_api_token(session, admin, "test")
        result.user_ids["admin"] = admin.id
        for role in ("editor", "viewer"):
            user = User(account_id=account.id, email=f"{role}-{tag}@example.com", role=role)
            session.add(user)
            await session.flush()
            result.tokens[role] = await issue_api_token(session, user, "test")
            result.user_ids[role] = user.id
    return result


async def make_operator(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as session, session.begin():
        return await issue_operator_token(session, f"op-{uuid.uuid4().hex[:8]}")


async def console_sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Sign in to the console as a browser does: the form (its CSRF cookie), then the post."""
    form = await client.get("/console/login")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert found is not None, "the sign-in form has no CSRF token"
    client.cookies.set("kith_login", form.cookies["kith_login"], path="/console")
    return await client.post("/console/login", data={"token": token, "csrf": found.group(1)})


@asynccontextmanager
async def running_gateway(
    settings: Settings, **overrides: Any
) -> AsyncIterator[tuple[Runtime, str]]:
    """A real gateway (uvicorn on a free port) with `overrides` applied; (runtime, base URL)."""
    from kith_gateway.app import build_app  # the app imports much; only servers need it

    port = free_port()
    runtime = build_app(settings.model_copy(update={"gateway_port": port, **overrides}))
    await runtime.start()
    base = f"http://127.0.0.1:{port}"

    async def up() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"{base}/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        await eventually(up, timeout=20)
        yield runtime, base
    finally:
        await runtime.stop()


@dataclass
class SeededRecords:
    """What `seed_records` wrote: ids per list path, and the stored bytes of each file."""

    __test__ = False

    ids: dict[str, list[int]] = field(default_factory=dict)
    by_contact: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def add(self, path: str, contact_ids: list[int], row_id: int) -> None:
        self.ids.setdefault(path, []).append(row_id)
        for contact_id in contact_ids:
            self.by_contact.setdefault(path, {}).setdefault(contact_id, []).append(row_id)


async def seed_records(
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
    contact_ids: list[int],
    *,
    storage: Storage | None = None,
) -> SeededRecords:
    """One record of every kind per contact (and one journal entry each), written directly.

    Moments repeat in pairs (two contacts share each one), so ties on "when" are broken by
    id; a relationship links each contact to the next; files go to `storage` when given.
    """
    out = SeededRecords()
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    async with sessions() as session, session.begin():
        event_type = await session.scalar(
            text("SELECT id FROM life_event_types WHERE account_id IS NULL ORDER BY id LIMIT 1")
        )
        # Another type each call, so seeding the same contacts again adds relationships.
        rel_type = await session.scalar(
            text(
                "SELECT t.id FROM relationship_types t WHERE t.account_id IS NULL AND NOT EXISTS"
                " (SELECT 1 FROM relationships r WHERE r.account_id = :a"
                " AND r.relationship_type_id = t.id) ORDER BY t.id LIMIT 1"
            ),
            {"a": account_id},
        )
        for index, contact_id in enumerate(contact_ids):
            at = base + dt.timedelta(hours=index // 2)
            common = {"account_id": account_id, "created_at": at, "updated_at": at}
            person = {**common, "contact_id": contact_id}
            rows: list[tuple[str, Any]] = [
                ("notes", Note(**person, body=f"note {index}")),
                ("calls", Call(**person, occurred_at=at, direction="inbound", notes="hi")),
                ("pets", Pet(**person, name=f"Rex {index}")),
                ("gifts", Gift(**person, name="Book", direction="given")),
                (
                    "debts",
                    Debt(**person, title="Lunch", amount=Decimal("12.50"), direction="owed_to_me"),
                ),
                ("tasks", Task(**person, title=f"Call back {index}")),
                ("reminders", Reminder(**person, type="one_time", next_reminder_on=at.date())),
                ("conversations", Conversation(**person, platform="sms")),
                (
                    "life-events",
                    LifeEvent(**person, life_event_type_id=event_type, occurred_on=at.date()),
                ),
                ("journal-entries", JournalEntry(**common, content="A day", occurred_at=at)),
            ]
            for path, row in rows:
                session.add(row)
                await session.flush()
                out.add(path, [] if path == "journal-entries" else [contact_id], row.id)
            conversation_id = out.ids["conversations"][-1]
            for n, direction in enumerate(("sent", "received")):
                session.add(
                    Message(
                        account_id=account_id,
                        conversation_id=conversation_id,
                        body=f"message {n}",
                        direction=direction,
                        sent_at=at + dt.timedelta(minutes=n),
                    )
                )
            activity = Activity(**common, title=f"Dinner {index}", occurred_at=at)
            session.add(activity)
            await session.flush()
            session.add(
                ActivityContact(
                    account_id=account_id, activity_id=activity.id, contact_id=contact_id
                )
            )
            out.add("activities", [contact_id], activity.id)
            if len(contact_ids) > 1:
                other = contact_ids[(index + 1) % len(contact_ids)]
                relationship = Relationship(
                    **person, related_contact_id=other, relationship_type_id=rel_type
                )
                session.add(relationship)
                await session.flush()
                out.add("relationships", [contact_id, other], relationship.id)
            for path, model, content_type, name in (
                ("photos", Photo, "image/png", f"p{index}.png"),
                ("documents", Document, "application/pdf", f'report "{index}".pdf'),
            ):
                data = (
                    png_bytes(tuple(uuid.uuid4().bytes[:3]))  # type: ignore[arg-type]
                    if path == "photos"
                    else f"{path} {index} {uuid.uuid4().hex}".encode()
                )
                key = f"{account_prefix(account_id)}{path}/{uuid.uuid4().hex}"
                if storage is not None:
                    await storage.put(key, data)
                stored = model(
                    **person,
                    storage_key=key,
                    file_name=name,
                    content_type=content_type,
                    size_bytes=len(data),
                    content_hash=hashlib.sha256(data).hexdigest(),
                )
                session.add(stored)
                await session.flush()
                out.add(path, [contact_id], stored.id)
                out.files[f"{path}/{stored.id}"] = data
    return out
