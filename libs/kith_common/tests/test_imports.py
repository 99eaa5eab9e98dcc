"""The imports domain: creation, the one-live-import rule, cancel and the key wipe."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common import fence, imports
from kith_common.accounts import create_account
from kith_common.crypto import SecretDecryptError, decrypt_secret, encrypt_secret
from kith_common.db.models import Import, Outbox
from kith_common.errors import Conflict, InvalidInput, NotFound, StaleGeneration
from kith_common.events import subjects

KEY = bytes(range(32))
OTHER_KEY = bytes(reversed(range(32)))


@pytest.fixture
async def account(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with session_factory() as session, session.begin():
        acc, user = await create_account(
            session, name="Imp", email=f"{uuid.uuid4().hex}@example.com"
        )
    return acc.id, user.id


async def _create(session: AsyncSession, account: tuple[int, int], **kw: object) -> Import:
    args: dict[str, object] = {
        "api_url": "https://h.example/monica/api/",
        "api_key": "secret-token-123",
        "options": {},
    }
    args.update(kw)
    return await imports.create_import(
        session,
        account_id=account[0],
        user_id=account[1],
        encryption_key=KEY,
        **args,  # type: ignore[arg-type]
    )


def test_secret_round_trips_and_refuses_another_key() -> None:
    blob = encrypt_secret(KEY, "s3cret")
    assert b"s3cret" not in blob
    assert decrypt_secret(KEY, blob) == "s3cret"
    with pytest.raises(SecretDecryptError) as info:
        decrypt_secret(OTHER_KEY, blob)
    assert "s3cret" not in str(info.value)


async def test_create_writes_pending_import_with_encrypted_key_and_start_command(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        row = await _create(session, account, options={"photos": True})
    assert row.status == "pending"
    assert row.misc_status == "pending"
    assert row.media_status == "pending"
    assert row.api_url == "https://h.example/monica"
    assert row.api_key_encrypted is not None
    assert b"secret-token-123" not in row.api_key_encrypted
    assert imports.decrypt_api_key(row, KEY) == "secret-token-123"
    assert row.options["auto_merge_duplicates"] is True
    async with session_factory() as session:
        cmd = (
            await session.scalars(
                select(Outbox).where(
                    Outbox.account_id == account[0], Outbox.subject == subjects.IMPORT_START
                )
            )
        ).one()
    assert cmd.envelope["data"] == {"import_id": row.id}
    assert "secret-token-123" not in str(cmd.envelope)


async def test_second_live_import_is_a_conflict(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        await _create(session, account)
    async with session_factory() as session, session.begin():
        with pytest.raises(Conflict):
            await _create(session, account)


async def test_misc_off_and_media_off_leave_their_phases_null(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    off = dict.fromkeys(imports.MISC_OPTIONS, False)
    async with session_factory() as session, session.begin():
        row = await _create(session, account, options=off)
    assert row.misc_status is None
    assert row.media_status is None


@pytest.mark.parametrize(
    ("options", "url"),
    [
        ({"bogus": True}, "https://h"),
        ({"phone_default_region": "ZZ"}, "https://h"),
        ({}, "ftp://h"),
        ({}, "https://user:pw@h"),
        ({}, "https://h/?x=1"),
    ],
)
async def test_bad_options_or_url_are_invalid_input(
    session_factory: async_sessionmaker[AsyncSession],
    account: tuple[int, int],
    options: dict[str, object],
    url: str,
) -> None:
    async with session_factory() as session, session.begin():
        with pytest.raises(InvalidInput):
            await _create(session, account, options=options, api_url=url)


async def test_cancel_of_pending_import_cancels_at_once_wipes_key_and_announces(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        row = await _create(session, account)
    async with session_factory() as session, session.begin():
        cancelled = await imports.request_cancel(session, account_id=account[0], import_id=row.id)
    assert cancelled.status == "cancelled"
    assert cancelled.misc_status == "cancelled"
    assert cancelled.api_key_encrypted is None
    assert cancelled.cancel_reason == "user"
    async with session_factory() as session:
        events = (
            await session.scalars(
                select(Outbox).where(
                    Outbox.account_id == account[0], Outbox.subject == subjects.IMPORT_CANCELLED
                )
            )
        ).all()
    assert len(events) == 1
    async with session_factory() as session, session.begin():
        with pytest.raises(Conflict):
            await imports.request_cancel(session, account_id=account[0], import_id=row.id)
        # the slot is free again
        await _create(session, account)


async def test_cancel_of_running_import_leaves_it_cancelling_for_the_worker(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        row = await _create(session, account)
        await imports.move(session, row.id, "status", "processing")
    async with session_factory() as session, session.begin():
        cancelled = await imports.request_cancel(session, account_id=account[0], import_id=row.id)
    assert cancelled.status == "cancelling"
    assert cancelled.misc_status == "cancelled"
    assert cancelled.api_key_encrypted is None
    async with session_factory() as session, session.begin():
        with pytest.raises(Conflict):  # still holds the live slot
            await _create(session, account)


async def test_cancel_of_another_accounts_import_is_not_found(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        row = await _create(session, account)
        other, _ = await create_account(session, name="O", email=f"{uuid.uuid4().hex}@x.org")
    async with session_factory() as session, session.begin():
        with pytest.raises(NotFound):
            await imports.request_cancel(session, account_id=other.id, import_id=row.id)


async def test_key_is_kept_while_a_follow_up_needs_it_and_wiped_after_the_last(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        row = await _create(session, account, options={"photos": True})
        await imports.move(session, row.id, "status", "processing")
        after_crawl = await imports.move(session, row.id, "status", "completed")
        assert after_crawl is not None
        assert after_crawl.api_key_encrypted is not None
        await imports.move(session, row.id, "misc_status", "completed")
        kept = await session.scalar(select(Import.api_key_encrypted).where(Import.id == row.id))
        assert kept is not None
        last = await imports.move(session, row.id, "media_status", "completed")
        assert last is not None
        assert last.api_key_encrypted is None


async def test_failed_crawl_cancels_follow_ups_and_wipes_key(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        row = await _create(session, account, options={"photos": True})
        failed = await imports.move(
            session, row.id, "status", "failed", error="boom", cancel_pending_follow_ups=True
        )
    assert failed is not None
    assert (failed.status, failed.misc_status, failed.media_status) == (
        "failed",
        "cancelled",
        "cancelled",
    )
    assert failed.api_key_encrypted is None


async def test_lease_is_refused_while_another_worker_heartbeats(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        row = await _create(session, account)
    async with session_factory() as session, session.begin():
        first = await imports.take_lease(session, row.id, "worker-a")
    assert not first.busy
    async with session_factory() as session, session.begin():
        second = await imports.take_lease(session, row.id, "worker-b")
    assert second.busy
    async with session_factory() as session, session.begin():
        stolen = await imports.take_lease(session, row.id, "worker-b", stale_after_seconds=0)
    assert not stolen.busy
    async with session_factory() as session, session.begin():
        assert await imports.heartbeat(session, row.id, "worker-a") is None


async def test_stale_cancelling_is_forced_to_cancelled(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        row = await _create(session, account)
        await imports.take_lease(session, row.id, "worker-a")
        await imports.move(session, row.id, "status", "processing")
        await imports.request_cancel(session, account_id=account[0], import_id=row.id)
    async with session_factory() as session, session.begin():
        fresh = await imports.force_stale_cancelling(session, account_id=account[0])
        assert fresh == []  # its worker heartbeated just now
        forced = await imports.force_stale_cancelling(
            session, account_id=account[0], stale_after_seconds=0
        )
    assert [(r.id, r.status) for r in forced] == [(row.id, "cancelled")]


async def test_sweep_fails_expired_keys_and_stalled_workers_and_wipes_keys(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    from sqlalchemy import update

    async with session_factory() as session, session.begin():
        row = await _create(session, account, options={"photos": True})
        await imports.take_lease(session, row.id, "gone")
        await imports.move(session, row.id, "status", "processing")
        await session.execute(
            update(Import)
            .where(Import.id == row.id)
            .values(heartbeat_at=func.now() - dt.timedelta(minutes=31))
        )
    async with session_factory() as session, session.begin():
        result = await imports.sweep(session, key_ttl_hours=24)
    assert row.id in result.stalled
    async with session_factory() as session:
        swept = await session.get(Import, row.id)
    assert swept is not None
    assert (swept.status, swept.misc_status, swept.media_status) == (
        "failed",
        "cancelled",
        "cancelled",
    )
    assert swept.error == imports.WORKER_STOPPED
    assert swept.api_key_encrypted is None
    async with session_factory() as session, session.begin():
        second = await _create(session, account)
        await session.execute(
            update(Import)
            .where(Import.id == second.id)
            .values(created_at=func.now() - dt.timedelta(hours=25))
        )
    async with session_factory() as session, session.begin():
        result = await imports.sweep(session, key_ttl_hours=24)
    assert second.id in result.key_expired
    async with session_factory() as session:
        expired = await session.get(Import, second.id)
    assert expired is not None
    assert expired.status == "failed"
    assert expired.error == "API key expired"
    assert expired.api_key_encrypted is None


async def test_fenced_beat_refreshes_the_lease_and_reads_the_status(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        row = await _create(session, account)
        await imports.take_lease(session, row.id, "worker-a")
        await imports.move(session, row.id, "status", "processing")
    fenced = {"account_id": account[0], "generation": row.generation}
    async with session_factory() as session, session.begin():
        before = await session.scalar(select(Import.heartbeat_at).where(Import.id == row.id))
        assert await imports.fenced_beat(session, row.id, "worker-a", **fenced) == "processing"
    async with session_factory() as session, session.begin():
        after = await session.scalar(select(Import.heartbeat_at).where(Import.id == row.id))
        assert before is not None
        assert after is not None
        assert after > before
        assert await imports.fenced_beat(session, row.id, "worker-b", **fenced) is None
        assert await imports.beat(session, row.id, "worker-b") is None
        await imports.request_cancel(session, account_id=account[0], import_id=row.id)
    async with session_factory() as session, session.begin():
        assert await imports.fenced_beat(session, row.id, "worker-a", **fenced) == "cancelling"
        assert await imports.beat(session, row.id, "worker-a") == "cancelling"


async def test_fenced_beat_after_a_reset_is_stale_and_leaves_the_lease(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        row = await _create(session, account)
        await imports.take_lease(session, row.id, "worker-a")
        await imports.move(session, row.id, "status", "processing")
        await fence.bump(session, account[0])
    lease = select(Import.lease_owner, Import.heartbeat_at).where(Import.id == row.id)
    async with session_factory() as session:
        before = (await session.execute(lease)).one()
    async with session_factory() as session:
        with pytest.raises(StaleGeneration):
            await imports.fenced_beat(
                session, row.id, "worker-b", account_id=account[0], generation=row.generation
            )
        await session.commit()
    async with session_factory() as session:
        assert (await session.execute(lease)).one() == before
        assert before[0] == "worker-a"
        with pytest.raises(StaleGeneration):
            await imports.fenced_beat(
                session, row.id, "worker-a", account_id=-1, generation=row.generation
            )


async def test_fenced_beat_holds_the_fence_until_commit(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    """A reset's generation bump waits for the step's transaction (ARCHITECTURE §5)."""
    async with session_factory() as session, session.begin():
        row = await _create(session, account)
        await imports.take_lease(session, row.id, "worker-a")
        await imports.move(session, row.id, "status", "processing")
    async with session_factory() as step, step.begin():
        await imports.fenced_beat(
            step, row.id, "worker-a", account_id=account[0], generation=row.generation
        )
        async with session_factory() as reset:
            await reset.execute(text("SET lock_timeout = '200ms'"))
            with pytest.raises(DBAPIError, match="lock timeout"):
                await fence.bump(reset, account[0])
            await reset.rollback()


async def test_save_progress_writes_only_a_processing_crawl(
    session_factory: async_sessionmaker[AsyncSession], account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        row = await _create(session, account)
        await imports.move(session, row.id, "status", "processing")
    async with session_factory() as session, session.begin():
        await imports.save_progress(
            session, row.id, summary={"contacts": 3}, checkpoint={"phase": "listing"}
        )
        await imports.request_cancel(session, account_id=account[0], import_id=row.id)
        await imports.save_progress(
            session, row.id, summary={"contacts": 9}, checkpoint={"phase": "notes"}
        )
    async with session_factory() as session:
        saved = await session.get_one(Import, row.id)
    assert (saved.status, saved.summary, saved.checkpoint) == (
        "cancelling",
        {"contacts": 3},
        {"phase": "listing"},
    )
    assert saved.started_at is not None
    assert saved.api_key_encrypted is None  # the cancel's wipe, untouched by the save
