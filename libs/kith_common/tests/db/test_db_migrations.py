"""The Alembic history builds exactly the models' schema, and `migrate` is safe to repeat."""

from __future__ import annotations

import asyncio
import sys
import warnings
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection

import kith_common.db.models  # noqa: F401  # registers every table
from kith_common.db.base import Base
from kith_common.db.migrate import current_revision, head_revision, migrate
from kith_common.db.session import create_engine

# One row per column, constraint and index of the public schema, as PostgreSQL prints them.
CATALOG_SQL = """
SELECT 'column', c.relname || '.' || a.attname,
       concat_ws(' ', format_type(a.atttypid, a.atttypmod),
                 CASE WHEN a.attnotnull THEN 'NOT NULL' END,
                 CASE WHEN a.attidentity <> '' THEN 'IDENTITY ' || a.attidentity::text END,
                 CASE WHEN a.attgenerated <> '' THEN 'GENERATED' END,
                 pg_get_expr(d.adbin, d.adrelid))
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid AND c.relkind = 'r'
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint', c.relname || '.' || k.conname, pg_get_constraintdef(k.oid)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
UNION ALL
SELECT 'index', i.tablename || '.' || i.indexname, i.indexdef
FROM pg_indexes i WHERE i.schemaname = 'public'
UNION ALL
SELECT 'extension', e.extname, '' FROM pg_extension e WHERE e.extname IN ('pg_trgm', 'citext')
"""


async def _catalog(database_url: str) -> dict[tuple[str, str], str]:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text(CATALOG_SQL))).all()
    finally:
        await engine.dispose()
    return {
        (kind, name): definition
        for kind, name, definition in rows
        if not name.startswith("alembic_version")
    }


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    with warnings.catch_warnings():
        # "Computed default ... cannot be modified": alembic cannot compare generated columns;
        # the catalog comparison below covers them.
        warnings.simplefilter("ignore", UserWarning)
        return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_has_no_autogenerate_diff(database_url: str) -> None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(_diff)
    finally:
        await engine.dispose()
    assert diff == []


async def test_migrated_schema_equals_create_all_catalog(
    database_url: str, empty_database_url: str
) -> None:
    """What autogenerate cannot compare (CHECKs, partial and GIN indexes, generated columns,
    SET NULL column lists) is compared here, catalog row by catalog row."""
    engine = create_engine(empty_database_url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            await connection.execute(text("CREATE EXTENSION IF NOT EXISTS citext"))
            await connection.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()

    migrated, modelled = await _catalog(database_url), await _catalog(empty_database_url)

    assert {k: v for k, v in migrated.items() if modelled.get(k) != v} == {}
    assert {k: v for k, v in modelled.items() if migrated.get(k) != v} == {}


async def test_migrate_twice_is_a_no_op(empty_database_url: str) -> None:
    assert await migrate(empty_database_url) == head_revision()
    before = await _catalog(empty_database_url)

    assert await migrate(empty_database_url) == head_revision()

    assert await _catalog(empty_database_url) == before
    engine = create_engine(empty_database_url, poolclass=pool.NullPool)
    try:
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as connection:
            genders = await connection.scalar(text("SELECT count(*) FROM genders"))
        assert genders == 4
    finally:
        await engine.dispose()


async def _assert_at_head_with_seeds(database_url: str) -> None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as connection:
            types = await connection.scalar(text("SELECT count(*) FROM contact_field_types"))
        assert types == 13
    finally:
        await engine.dispose()


async def test_concurrent_migrations_in_one_process_both_succeed(
    empty_database_url: str,
) -> None:
    results = await asyncio.gather(migrate(empty_database_url), migrate(empty_database_url))

    assert results == [head_revision(), head_revision()]
    await _assert_at_head_with_seeds(empty_database_url)


async def test_concurrent_migrations_in_two_processes_both_succeed(
    empty_database_url: str,
) -> None:
    """Two pods running `kith migrate` at once: the advisory lock serialises them."""
    script = (
        "import asyncio, sys\n"
        "from kith_common.db.migrate import migrate\n"
        "print(asyncio.run(migrate(sys.argv[1])))\n"
    )
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            empty_database_url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = await asyncio.gather(*(process.communicate() for process in processes))

    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr.decode()
        assert stdout.decode().strip() == head_revision()
    await _assert_at_head_with_seeds(empty_database_url)


async def test_concurrent_migrations_of_two_databases_in_one_process(
    empty_database_url: str, database_url: str
) -> None:
    """Alembic's context is process-global: `migrate` must not interleave two upgrades."""
    results = await asyncio.gather(migrate(empty_database_url), migrate(database_url))

    assert results == [head_revision(), head_revision()]
    await _assert_at_head_with_seeds(empty_database_url)


async def test_fresh_database_has_no_revision(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url, poolclass=pool.NullPool)
    try:
        assert await current_revision(engine) is None
    finally:
        await engine.dispose()
