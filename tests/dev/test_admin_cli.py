"""The operator's CLI: `kith migrate`, `kith admin ...` against the real database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.accounts import hash_token
from kith_common.db.models import Account, AccountReset, ApiToken, OperatorToken, Outbox, User
from kith_common.events.subjects import DEDUP_SCAN, PHONES_RENORMALIZE


def kith(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KITH_DATABASE_URL=database_url)
    return subprocess.run(
        [sys.executable, "-m", "kith_common.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_is_idempotent_from_the_cli(database_url: str) -> None:
    first, second = kith(database_url, "migrate"), kith(database_url, "migrate")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    assert "database at revision" in first.stdout


async def test_create_account_prints_a_working_admin_token_once(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    done = kith(database_url, "admin", "create-account", "--name", "Ada", "--email", "ada@cli.test")
    assert done.returncode == 0, done.stderr
    token = re.search(r"(kith_\S+)", done.stdout)
    assert token is not None
    async with session_factory() as session:
        row = await session.scalar(
            select(ApiToken).where(ApiToken.token_hash == hash_token(token.group(1)))
        )
        assert row is not None
        user = await session.get(User, row.user_id)
        assert user is not None
        assert user.role == "admin"
        assert user.email == "ada@cli.test"


async def test_create_operator_prints_an_operator_token(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    done = kith(database_url, "admin", "create-operator", "--name", "ops")
    assert done.returncode == 0, done.stderr
    token = re.search(r"(kith_\S+)", done.stdout)
    assert token is not None
    async with session_factory() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(OperatorToken)
            .where(OperatorToken.token_hash == hash_token(token.group(1)))
        )
    assert found == 1


async def test_weekly_scan_queues_one_command_per_account_skipping_resets(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    for name in ("Scan A", "Scan B"):
        done = kith(
            database_url,
            "admin",
            "create-account",
            "--name",
            name,
            "--email",
            f"{name[-1].lower()}@scan.test",
        )
        assert done.returncode == 0, done.stderr
    async with session_factory() as session, session.begin():
        resetting = await session.scalar(select(Account.id).where(Account.name == "Scan B"))
        generation = await session.scalar(select(Account.generation).where(Account.id == resetting))
        session.add(
            AccountReset(
                account_id=resetting, status="running", stage="accepted", generation=generation
            )
        )
        running = select(AccountReset.account_id).where(AccountReset.status == "running")
        expected = set(
            (await session.execute(select(Account.id).where(Account.id.not_in(running))))
            .scalars()
            .all()
        )
        before = await session.scalar(select(func.max(Outbox.created_at)))
    done = kith(database_url, "admin", "dedup-scan", "--all-accounts")
    assert done.returncode == 0, done.stderr
    async with session_factory() as session:
        query = select(Outbox.account_id).where(Outbox.subject == DEDUP_SCAN)
        if before is not None:
            query = query.where(Outbox.created_at > before)
        rows = (await session.execute(query)).scalars().all()
    assert sorted(rows) == sorted(expected)
    assert resetting not in rows

    # The phone backfill goes the same way: one command per account, the resetting one skipped.
    phones = kith(database_url, "admin", "phones", "renormalize", "--all", "--json")
    assert phones.returncode == 0, phones.stderr
    assert json.loads(phones.stdout) == {"accounts": len(expected)}
    async with session_factory() as session:
        query = select(Outbox.account_id).where(Outbox.subject == PHONES_RENORMALIZE)
        if before is not None:
            query = query.where(Outbox.created_at > before)
        queued = (await session.execute(query)).scalars().all()
    assert sorted(queued) == sorted(expected)
