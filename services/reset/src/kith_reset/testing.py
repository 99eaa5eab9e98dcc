"""Test and benchmark helpers: fill an account with rows in every table, and files.

Not used by the service. `seed_account` writes `scale` contacts with children in every
account-scoped table (own reference rows, invitations and tokens included) and files under
the account's storage prefix, and returns how many rows it wrote per table, so tests can
compare a domain's counts with what was seeded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import random
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.accounts import hash_token
from kith_common.db.base import Base
from kith_common.db.models import ContactFieldType, LifeEventType, RelationshipType
from kith_common.storage import Storage


def _t(name: str) -> Table:
    return Base.metadata.tables[name]


async def _rows(session: AsyncSession, table: str, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    t = _t(table)
    if "id" in t.c and table not in ("import_connection_checks",):
        result = await session.execute(insert(t).returning(t.c.id), rows)
        return [int(r[0]) for r in result]
    await session.execute(insert(t), rows)
    return []


async def _global_id(session: AsyncSession, model: Any) -> int:
    found = await session.scalar(
        select(model.id).where(model.account_id.is_(None)).order_by(model.id).limit(1)
    )
    assert found is not None
    return int(found)


async def seed_account(
    session: AsyncSession,
    account_id: int,
    user_id: int,
    *,
    storage: Storage | None = None,
    scale: int = 3,
    rng: random.Random | None = None,
    orphan_files: int = 1,
) -> Counter[str]:
    """Write `scale` contacts (at least 2) and children everywhere; return rows per table."""
    rng = rng or random.Random(account_id)
    scale = max(2, scale)
    seeded: Counter[str] = Counter()
    now = dt.datetime.now(dt.UTC)
    today = now.date()

    async def add(table: str, rows: list[dict[str, Any]]) -> list[int]:
        for row in rows:
            row.setdefault("account_id", account_id)
        seeded[table] += len(rows)
        return await _rows(session, table, rows)

    tag = uuid.uuid4().hex[:8]
    # Preserved: the account's own reference rows, an invitation, a second token.
    await add("genders", [{"name": f"Own gender {tag}"}])
    own_cft = (await add("contact_field_types", [{"name": f"Own field {tag}", "protocol": None}]))[
        0
    ]
    await add("relationship_types", [{"name": f"Own rel {tag}", "reverse_name": f"Rev {tag}"}])
    await add("life_event_types", [{"name": f"Own event {tag}", "category": "other"}])
    await add(
        "account_invitations",
        [
            {
                "email": f"invitee-{tag}@example.com",
                "role": "editor",
                "token_hash": hash_token(f"invite-{tag}"),
                "expires_at": now + dt.timedelta(days=7),
            }
        ],
    )
    email_type = await _global_id(session, ContactFieldType)
    rel_type = await _global_id(session, RelationshipType)
    event_type = await _global_id(session, LifeEventType)

    contacts = await add(
        "contacts",
        [
            {
                "first_name": f"First{i}",
                "last_name": f"Last{rng.randint(0, 10**6)}",
                "display_name": f"First{i} Last",
                "deleted_at": now if i % 3 == 2 else None,
            }
            for i in range(scale)
        ],
    )
    tags = await add("tags", [{"name": f"tag-{tag}-{i}"} for i in range(max(1, scale // 2))])
    await add(
        "contact_tags",
        [{"contact_id": c, "tag_id": tags[i % len(tags)]} for i, c in enumerate(contacts)],
    )
    await add(
        "contact_fields",
        [
            {
                "contact_id": c,
                "contact_field_type_id": email_type if i % 2 else own_cft,
                "value": f"p{i}-{tag}@example.com",
            }
            for i, c in enumerate(contacts)
        ],
    )
    await add("addresses", [{"contact_id": c, "city": "Lyon"} for c in contacts])
    pairs = list(itertools.pairwise(contacts))
    await add(
        "relationships",
        [
            {"contact_id": a, "related_contact_id": b, "relationship_type_id": rel_type}
            for a, b in pairs
        ],
    )
    await add(
        "life_events",
        [
            {"contact_id": c, "life_event_type_id": event_type, "occurred_on": today}
            for c in contacts
        ],
    )
    await add("calls", [{"contact_id": c, "occurred_at": now} for c in contacts])
    await add("pets", [{"contact_id": c, "name": "Rex"} for c in contacts])
    await add("gifts", [{"contact_id": c, "name": "Book", "direction": "given"} for c in contacts])
    debts = await add(
        "debts",
        [
            {
                "contact_id": c,
                "title": "Lunch",
                "amount": Decimal("12.50"),
                "direction": "owed_to_me",
            }
            for c in contacts
        ],
    )
    await add(
        "debt_payments",
        [{"debt_id": d, "amount": Decimal("1.00"), "paid_on": today} for d in debts],
    )
    await add("notes", [{"contact_id": c, "body": f"note {i}"} for i, c in enumerate(contacts)])

    async def files(kind: str, count: int) -> list[tuple[str, str]]:
        made = []
        for _ in range(count):
            data = rng.randbytes(rng.randint(1, 64))
            key = f"a/{account_id}/{kind}/{uuid.uuid4().hex}.bin"
            if storage is not None:
                await storage.put(key, data)
            made.append((key, hashlib.sha256(data).hexdigest()))
        return made

    photo_files = await files("photos", len(contacts))
    photos = await add(
        "photos",
        [
            {
                "contact_id": c,
                "storage_key": key,
                "content_type": "image/jpeg",
                "size_bytes": 10,
                "content_hash": digest,
            }
            for c, (key, digest) in zip(contacts, photo_files, strict=True)
        ],
    )
    t_contacts = _t("contacts")
    await session.execute(
        t_contacts.update()
        .where(t_contacts.c.id == contacts[0])
        .values(avatar_photo_id=photos[0], first_met_through_id=contacts[1])
    )
    doc_files = await files("documents", 1)
    await add(
        "documents",
        [
            {
                "contact_id": contacts[0],
                "storage_key": doc_files[0][0],
                "content_type": "application/pdf",
                "size_bytes": 10,
                "content_hash": doc_files[0][1],
            }
        ],
    )
    conversations = await add("conversations", [{"contact_id": c} for c in contacts])
    await add(
        "messages",
        [
            {"conversation_id": cv, "body": "hi", "direction": "sent", "sent_at": now}
            for cv in conversations
            for _ in range(2)
        ],
    )
    await add(
        "reminders",
        [{"contact_id": c, "type": "one_time", "next_reminder_on": today} for c in contacts],
    )
    await add(
        "tasks",
        [{"contact_id": contacts[0], "title": "call"}, {"contact_id": None, "title": "solo"}],
    )
    await add("journal_entries", [{"content": "day", "occurred_at": now}])
    activities = await add("activities", [{"title": "dinner", "occurred_at": now}])
    await add(
        "activity_contacts",
        [{"activity_id": activities[0], "contact_id": c} for c in contacts],
    )
    await add(
        "audit_logs",
        [
            {"user_id": user_id, "user_name": "Admin", "event": "contact_created"},
            {"user_id": user_id, "user_name": "Admin", "event": "data_imported"},
        ],
    )
    await add(
        "duplicate_candidates",
        [
            {
                "contact_id": min(contacts[0], contacts[1]),
                "duplicate_contact_id": max(contacts[0], contacts[1]),
                "score": Decimal("0.90"),
                "reasons": ["name_match"],
            }
        ],
    )
    await add(
        "contact_merges",
        [
            {
                "merge_id": uuid.uuid4(),
                "survivor_id": contacts[0],
                "loser_id": contacts[1],
                "source": "api",
                "status": "done",
            }
        ],
    )
    await add("dedup_key_state", [{"key_version": "v1"}])
    upload = await files("imports", 1)
    imports = await add(
        "imports",
        [
            {
                "source": "vcard",
                "generation": 1,
                "status": "completed",
                "file_storage_key": upload[0][0],
            }
        ],
    )
    await add(
        "import_records",
        [
            {
                "import_id": imports[0],
                "source": "monica_api",
                "source_entity_type": "contact",
                "source_entity_id": "1",
                "local_entity_type": "contact",
                "local_entity_id": contacts[0],
            }
        ],
    )
    await add(
        "import_staging",
        [{"import_id": imports[0], "kind": "listing", "key": "1", "payload": {"page": 1}}],
    )
    await add(
        "import_connection_checks",
        [
            {
                "id": uuid.uuid4(),
                "api_url": "https://monica.example/api",
                "api_key_encrypted": b"\x00" * 16,
                "expires_at": now + dt.timedelta(minutes=10),
            }
        ],
    )
    if storage is not None:
        for _ in range(orphan_files):
            await storage.put(f"a/{account_id}/photos/orphan-{uuid.uuid4().hex}.bin", b"orphan")
    return seeded


async def snapshot(session: AsyncSession, account_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the account in every table (the account row included), column for column.

    Tables without `account_id` (operator tokens, bus tables) and global reference rows are
    compared by `global_snapshot`.
    """
    taken: dict[str, list[tuple[Any, ...]]] = {}
    for name, table in sorted(Base.metadata.tables.items()):
        if name in ("outbox", "inbox"):
            continue  # bus bookkeeping, not account data
        if name == "accounts":
            query = select(table).where(table.c.id == account_id)
        elif "account_id" in table.c:
            query = select(table).where(table.c.account_id == account_id)
        else:
            continue
        rows = (await session.execute(query)).all()
        taken[name] = sorted((tuple(row) for row in rows), key=repr)
    return taken


async def global_snapshot(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
    """Global reference rows and operator tokens."""
    taken: dict[str, list[tuple[Any, ...]]] = {}
    for name in ("genders", "contact_field_types", "relationship_types", "life_event_types"):
        table = _t(name)
        rows = (await session.execute(select(table).where(table.c.account_id.is_(None)))).all()
        taken[name] = sorted((tuple(row) for row in rows), key=repr)
    table = _t("operator_tokens")
    taken["operator_tokens"] = sorted(
        (tuple(row) for row in (await session.execute(select(table))).all()), key=repr
    )
    return taken


async def file_hashes(storage_root: Path, account_id: int) -> dict[str, str]:
    """Path → SHA-256 of every file under the account's prefix in a local storage root."""
    base = Path(storage_root) / "a" / str(account_id)
    if not base.is_dir():
        return {}
    return {
        path.relative_to(storage_root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(base.rglob("*"))
        if path.is_file()
    }
