"""SQL over the reset's own tables, and the batched deletes of the cleanup consumers.

Every statement is scoped to one account; the deletes touch only the table they name, so a
domain's counts are exact per table (reset.md §4.7).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnClause,
    Integer,
    any_,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import AccountReset, AccountResetDomain, Document, Import, Photo
from kith_reset.domains import TableStep

# reset.md §5: a batch waits at most 5 s for a row lock, then fails and is retried.
LOCK_TIMEOUT = "5s"


async def set_lock_timeout(session: AsyncSession) -> None:
    # text(): SET LOCAL has no SQLAlchemy construct.
    await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))


async def lock_reset(session: AsyncSession, reset_id: int) -> AccountReset | None:
    """The reset row `FOR UPDATE`, re-read (stage moves are serialized on it)."""
    return await session.scalar(
        select(AccountReset)
        .where(AccountReset.id == reset_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def lock_domain(session: AsyncSession, reset_id: int, name: str) -> AccountResetDomain | None:
    """The domain row `FOR UPDATE`: two deliveries of one message serialize here."""
    return await session.scalar(
        select(AccountResetDomain)
        .where(AccountResetDomain.reset_id == reset_id, AccountResetDomain.domain == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def domains_of(session: AsyncSession, reset_id: int) -> list[AccountResetDomain]:
    return list(
        (
            await session.scalars(
                select(AccountResetDomain)
                .where(AccountResetDomain.reset_id == reset_id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )


async def mark_running(session: AsyncSession, reset_id: int, names: tuple[str, ...]) -> None:
    await session.execute(
        update(AccountResetDomain)
        .where(
            AccountResetDomain.reset_id == reset_id,
            AccountResetDomain.domain.in_(names),
            AccountResetDomain.status == "pending",
        )
        .values(status="running", started_at=func.now())
    )


async def move_stage(session: AsyncSession, reset_id: int, expected: str, to: str) -> bool:
    """Guarded stage move (`WHERE stage = expected`): true only for the one that moved it."""
    moved = await session.scalar(
        update(AccountReset)
        .where(
            AccountReset.id == reset_id,
            AccountReset.stage == expected,
            AccountReset.status == "running",
        )
        .values(stage=to)
        .returning(AccountReset.id)
    )
    return moved is not None


Key = tuple[Any, ...]


def _ctid() -> ColumnClause[Any]:
    # literal_column(): the system column ctid has no Column in the models.
    return literal_column("ctid")


def _integer_keys(table: Any) -> bool:
    return all(isinstance(col.type, (BigInteger, Integer)) for col in table.primary_key.columns)


async def delete_batch(
    session: AsyncSession,
    step: TableStep,
    account_id: int,
    limit: int,
    after: Key | None = None,
) -> tuple[int, Key | None]:
    """Delete at most `limit` of the account's rows of one table, lowest keys first.

    `DELETE ... WHERE key IN (SELECT key ... ORDER BY key LIMIT n)`: tables keyed by a pair
    (contact_tags, activity_contacts, import_staging) delete by that pair. Returns the count
    and, for integer keys, the highest key deleted: passed back as `after`, the next batch
    starts past it instead of rescanning the dead index entries of every earlier batch
    (which made large deletes quadratic). Text or uuid keys always start from the lowest.
    """
    table = step.table
    keys = list(table.primary_key.columns)
    keyset = _integer_keys(table)
    row_id = _ctid()
    chosen = select(row_id).select_from(table).where(table.c.account_id == account_id)
    if step.where is not None:
        chosen = chosen.where(step.where())
    if keyset and after is not None:
        # Bound with the key columns' types (bigint), not guessed from the Python ints.
        values = [literal(value, col.type) for value, col in zip(after, keys, strict=True)]
        bound = keys[0] > values[0] if len(keys) == 1 else tuple_(*keys) > tuple_(*values)
        chosen = chosen.where(bound)
    chosen = chosen.order_by(*keys).limit(limit)
    # `ctid = ANY(ARRAY(subquery))` is a TID scan of exactly the chosen rows; the plain
    # `key IN (subquery)` was planned as a hash semi-join over a sequential scan of the whole
    # table (every account's rows) for every batch.
    statement = (
        table.delete().where(row_id == any_(func.array(chosen.scalar_subquery()))).returning(*keys)
    )
    rows = (await session.execute(statement)).all()
    last = max(tuple(row) for row in rows) if rows and keyset else None
    return len(rows), last


async def remaining(session: AsyncSession, step: TableStep, account_id: int) -> int:
    """Rows of the account left in one table (tests and the contacts-stage check)."""
    table = step.table
    query = select(func.count()).select_from(table).where(table.c.account_id == account_id)
    if step.where is not None:
        query = query.where(step.where())
    return int(await session.scalar(query) or 0)


async def still_cancelling(session: AsyncSession, account_id: int) -> int:
    """The account's imports with a phase still `cancelling` (a worker is stopping it)."""
    cancelling = or_(
        Import.status == "cancelling",
        Import.misc_status == "cancelling",
        Import.media_status == "cancelling",
    )
    query = (
        select(func.count()).select_from(Import).where(Import.account_id == account_id, cancelling)
    )
    return int(await session.scalar(query) or 0)


FILE_SOURCES: dict[str, Any] = {
    "photos": (Photo.id, Photo.storage_key, Photo.account_id),
    "documents": (Document.id, Document.storage_key, Document.account_id),
    "imports": (Import.id, Import.file_storage_key, Import.account_id),
}


async def file_keys(
    session: AsyncSession, source: str, account_id: int, after_id: int, limit: int
) -> list[tuple[int, str]]:
    """One keyset page of (row id, storage key) of a file source (reset.md §4.3)."""
    id_col, key_col, account_col = FILE_SOURCES[source]
    rows = await session.execute(
        select(id_col, key_col)
        .where(account_col == account_id, id_col > after_id, key_col.is_not(None))
        .order_by(id_col)
        .limit(limit)
    )
    return [(int(row[0]), str(row[1])) for row in rows]
