"""Reset of a large account while another account of the same size stays untouched.

Run by hand (never in CI):  .venv/bin/python bench/reset/bench_reset.py [--contacts 100000]
Creates a scratch database `kith_bench_reset`, migrates it, seeds two accounts with the same
shape (contacts and proportionate children in every domain, photo files on local storage),
runs the reset service in-process with the production tuning (batch 1000, KITH_RESET_*
defaults), resets one account and reports wall time from admission to `completed`, each
stage's time, rows/s, the deadlock counter, and whether the other account is byte-identical
(an md5 per table over its rows) and its files intact. Cleans up streams and the database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

from kith_common import resets
from kith_common.accounts import create_account
from kith_common.db.base import Base
from kith_common.db.migrate import migrate
from kith_common.db.models import User
from kith_common.settings import Settings
from kith_common.storage import LocalStorage
from kith_common.testing.bus import drop_streams
from kith_reset.app import build_app
from kith_reset.domains import DOMAINS

SERVER = "postgresql://postgres@127.0.0.1:5432"
DB = "kith_bench_reset"
NATS = "nats://127.0.0.1:4222"

# Children per contact (rounded); text() below: bulk INSERT ... SELECT generate_series has no
# cheaper ORM form, and this is a benchmark, not service code.
SEED_SQL = [
    """INSERT INTO contacts (account_id, first_name, last_name, display_name, deleted_at)
       SELECT :a, 'First' || g, 'Last' || g, 'First' || g || ' Last',
              CASE WHEN g % 20 = 0 THEN now() END
       FROM generate_series(1, :n) g""",
    """INSERT INTO tags (account_id, name) SELECT :a, 'tag-' || g FROM generate_series(1, 20) g""",
    """INSERT INTO contact_tags (account_id, contact_id, tag_id)
       SELECT c.account_id, c.id, t.id FROM contacts c
       JOIN tags t ON t.account_id = c.account_id AND t.name = 'tag-' || (c.id % 20 + 1)
       WHERE c.account_id = :a""",
    """INSERT INTO contact_fields (account_id, contact_id, contact_field_type_id, value, match_key)
       SELECT account_id, id, (SELECT id FROM contact_field_types WHERE key = 'email'),
              'p' || id || '@example.com', 'p' || id || '@example.com'
       FROM contacts WHERE account_id = :a""",
    """INSERT INTO addresses (account_id, contact_id, city, line1, postal_code)
       SELECT account_id, id, 'Lyon', id || ' rue', '69001' FROM contacts WHERE account_id = :a""",
    """INSERT INTO notes (account_id, contact_id, body)
       SELECT account_id, id, 'note ' || id || '-' || k FROM contacts, generate_series(1, 2) k
       WHERE account_id = :a""",
    """INSERT INTO reminders (account_id, contact_id, type, next_reminder_on)
       SELECT account_id, id, 'one_time', current_date FROM contacts WHERE account_id = :a""",
    """INSERT INTO tasks (account_id, contact_id, title)
       SELECT account_id, CASE WHEN id % 4 = 0 THEN NULL ELSE id END, 'task ' || id
       FROM contacts WHERE account_id = :a AND id % 2 = 0""",
    """INSERT INTO calls (account_id, contact_id, occurred_at)
       SELECT account_id, id, now() FROM contacts WHERE account_id = :a AND id % 2 = 1""",
    """INSERT INTO life_events (account_id, contact_id, life_event_type_id, occurred_on)
       SELECT account_id, id, (SELECT min(id) FROM life_event_types WHERE account_id IS NULL),
              current_date
       FROM contacts WHERE account_id = :a AND id % 5 = 0""",
    """INSERT INTO relationships (account_id, contact_id, related_contact_id, relationship_type_id)
       SELECT account_id, id, id + 1,
              (SELECT min(id) FROM relationship_types WHERE account_id IS NULL)
       FROM contacts c WHERE account_id = :a AND id % 5 = 0
         AND EXISTS (SELECT 1 FROM contacts d WHERE d.id = c.id + 1 AND d.account_id = :a)""",
    """INSERT INTO conversations (account_id, contact_id)
       SELECT account_id, id FROM contacts WHERE account_id = :a AND id % 5 = 0""",
    """INSERT INTO messages (account_id, conversation_id, body, direction, sent_at)
       SELECT account_id, id, 'hi', 'sent', now() FROM conversations, generate_series(1, 3)
       WHERE account_id = :a""",
    """INSERT INTO activities (account_id, title, occurred_at)
       SELECT :a, 'dinner ' || g, now() FROM generate_series(1, :n / 10) g""",
    """INSERT INTO activity_contacts (account_id, activity_id, contact_id)
       SELECT a.account_id, a.id, c.id FROM activities a
       JOIN contacts c ON c.account_id = a.account_id AND c.id % (:n / 10) = a.id % (:n / 10)
       WHERE a.account_id = :a""",
    """INSERT INTO journal_entries (account_id, content, occurred_at)
       SELECT :a, 'day ' || g, now() FROM generate_series(1, :n / 100) g""",
    """INSERT INTO audit_logs (account_id, user_name, event, contact_id)
       SELECT account_id, 'Admin', 'contact_created', id FROM contacts WHERE account_id = :a""",
    """INSERT INTO duplicate_candidates (account_id, contact_id, duplicate_contact_id, score,
                                        reasons)
       SELECT account_id, id, id + 1, 0.9, ARRAY['name_match'] FROM contacts c
       WHERE account_id = :a AND id % 20 = 0
         AND EXISTS (SELECT 1 FROM contacts d WHERE d.id = c.id + 1 AND d.account_id = :a)""",
    """INSERT INTO imports (account_id, source, generation, status)
       VALUES (:a, 'monica_api', 1, 'completed')""",
    """INSERT INTO import_records (account_id, import_id, source, source_entity_type,
                                  source_entity_id, local_entity_type, local_entity_id)
       SELECT c.account_id, i.id, 'monica_api', 'contact', c.id::text, 'contact', c.id
       FROM contacts c JOIN imports i ON i.account_id = c.account_id WHERE c.account_id = :a""",
]


async def fresh_database() -> str:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await conn.execute(f'CREATE DATABASE "{DB}"')
    await conn.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
    await migrate(url)
    return url


async def drop_database() -> None:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await conn.close()


async def seed(runtime: Any, account_id: int, contacts: int, storage: LocalStorage) -> int:
    for sql in SEED_SQL:
        async with runtime.sessions() as session, session.begin():
            await session.execute(text(sql), {"a": account_id, "n": contacts})
        # Fresh statistics, or the planner treats the just-filled parents as empty.
        async with runtime.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    async with runtime.sessions() as session, session.begin():
        ids = (
            await session.execute(
                text("SELECT id FROM contacts WHERE account_id = :a AND id % 10 = 0"),
                {"a": account_id},
            )
        ).scalars()
        rows = []
        for contact_id in ids:
            data = f"photo {contact_id}".encode()
            key = f"a/{account_id}/photos/{uuid.uuid4().hex}.jpg"
            await storage.put(key, data)
            rows.append(
                {
                    "a": account_id,
                    "c": contact_id,
                    "k": key,
                    "h": hashlib.sha256(data).hexdigest(),
                }
            )
        await session.execute(
            text(
                "INSERT INTO photos (account_id, contact_id, storage_key, content_type,"
                " size_bytes, content_hash) VALUES (:a, :c, :k, 'image/jpeg', 10, :h)"
            ),
            rows,
        )
        total = 0
        for name, table in Base.metadata.tables.items():
            if table.info.get("reset") == "delete" and "account_id" in table.c:
                total += int(
                    await session.scalar(
                        text(f"SELECT count(*) FROM {name} WHERE account_id = :a"),
                        {"a": account_id},
                    )
                    or 0
                )
    return total


async def fingerprint(runtime: Any, account_id: int) -> dict[str, str]:
    """md5 over every row of the account, per table (column for column)."""
    out = {}
    async with runtime.sessions() as session:
        for name, table in sorted(Base.metadata.tables.items()):
            if "account_id" not in table.c or name in ("outbox", "inbox"):
                continue
            out[name] = str(
                await session.scalar(
                    text(
                        f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                        f" FROM {name} t WHERE account_id = :a"
                    ),
                    {"a": account_id},
                )
            )
    return out


def file_digest(root: Path, account_id: int) -> str:
    digest = hashlib.sha256()
    base = root / "a" / str(account_id)
    for path in sorted(base.rglob("*")):
        if path.is_file():
            digest.update(path.as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


async def deadlocks(runtime: Any) -> int:
    async with runtime.sessions() as session:
        return int(
            await session.scalar(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            )
            or 0
        )


async def main(contacts: int) -> None:
    url = await fresh_database()
    prefix = "bench" + uuid.uuid4().hex[:8]
    root = Path(tempfile.mkdtemp(prefix="kith-bench-reset-"))
    storage = LocalStorage(root)
    settings = Settings(
        database_url=url,
        nats_url=NATS,
        stream_prefix=prefix,
        storage_url=f"file://{root}",
        metrics_port=0,
        log_level="warning",
        log_format="console",
    )
    runtime = build_app(settings)
    try:
        async with runtime.sessions() as session, session.begin():
            target, admin = await create_account(session, name="Target", email="t@bench.example")
            other, _ = await create_account(session, name="Other", email="o@bench.example")
        started = time.perf_counter()
        rows_target = await seed(runtime, target.id, contacts, storage)
        rows_other = await seed(runtime, other.id, contacts, storage)
        print(f"seeded {rows_target} + {rows_other} rows in {time.perf_counter() - started:.1f}s")
        other_before = await fingerprint(runtime, other.id)
        files_before = file_digest(root, other.id)
        dead_before = await deadlocks(runtime)
        await runtime.start()
        async with runtime.sessions() as session, session.begin():
            user = await session.get(User, admin.id)
            assert user is not None
            t0 = time.perf_counter()
            admission = await resets.admit(
                session, account_id=target.id, user=user, correlation_id=uuid.uuid4()
            )
        while True:
            async with runtime.sessions() as session:
                view = await resets.get_reset(session, target.id, admission.reset_id)
            if view.status != "running":
                break
            await asyncio.sleep(0.2)
        wall = time.perf_counter() - t0
        print(f"reset {view.status} in {wall:.1f}s ({rows_target / wall:,.0f} rows/s)")
        for d in view.domains:
            if d.started_at and d.finished_at:
                took = (d.finished_at - d.started_at).total_seconds()
                print(f"  {d.domain:14s} {d.stage:9s} {took:6.2f}s {sum(d.counts.values()):>9,}")
        other_after = await fingerprint(runtime, other.id)
        changed = [t for t in other_before if other_before[t] != other_after[t]]
        print(f"other account tables changed: {changed or 'none'}")
        print(f"other account files intact: {file_digest(root, other.id) == files_before}")
        print(f"deadlocks during the run: {await deadlocks(runtime) - dead_before}")
        left = await fingerprint(runtime, target.id)
        empty = hashlib.md5(b"").hexdigest()  # comparison with md5('') in SQL
        deleted = {step.name for d in DOMAINS for step in d.tables} - {"audit_logs"}
        print(f"target tables not empty: {[t for t in deleted if left[t] != empty] or 'none'}")
    finally:
        with contextlib.suppress(Exception):
            await runtime.stop()
        await drop_streams(NATS, prefix)
        await drop_database()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(main(args.contacts))
