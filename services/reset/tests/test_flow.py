"""A whole reset over real NATS and PostgreSQL: stages in order, exact counts, isolation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text

from kith_common.accounts import hash_token
from kith_common.db.models import ApiToken, AuditLog, Outbox
from kith_common.events import subjects
from kith_common.testing import eventually
from kith_reset import queries
from kith_reset.domains import DOMAINS, STAGE_DOMAINS, domain
from kith_reset.testing import file_hashes, global_snapshot, seed_account, snapshot

if TYPE_CHECKING:
    from .conftest import ResetEnv


async def test_reset_deletes_every_domain_in_stage_order_and_spares_the_other_account(
    env: ResetEnv,
) -> None:
    target = await env.account("Target")
    other = await env.account("Other")
    async with env.sessions() as session, session.begin():
        seeded = await seed_account(session, target.id, target.admin.id, storage=env.storage)
        await seed_account(session, other.id, other.admin.id, storage=env.storage)
    async with env.sessions() as session:
        other_before = await snapshot(session, other.id)
        target_before = await snapshot(session, target.id)
        globals_before = await global_snapshot(session)
    other_files = await file_hashes(env.storage_root, other.id)
    assert await file_hashes(env.storage_root, target.id)

    leftovers: dict[str, int] = {}

    async def when_contacts_start(name: str, table: str, account_id: int) -> None:
        if name == "contacts" and account_id == target.id and not leftovers:
            async with env.sessions() as session:
                for stage_domain in STAGE_DOMAINS["domains"]:
                    for step in domain(stage_domain).tables:
                        leftovers[step.name] = await queries.remaining(session, step, target.id)

    deadlocks_before = await _deadlocks(env)
    await env.start(faults=when_contacts_start)
    admission = await env.admit(target)
    view = await eventually(env.status_is(target, admission.reset_id, "completed"), timeout=120)
    assert await _deadlocks(env) == deadlocks_before

    # Stages: storage, then the ten domains in parallel, then contacts alone.
    by_name = {d.domain: d for d in view.domains}
    storage_done = by_name["storage"].finished_at
    assert storage_done is not None
    for name in STAGE_DOMAINS["domains"]:
        started = by_name[name].started_at
        assert started is not None
        assert started >= storage_done
    contacts_started = by_name["contacts"].started_at
    assert contacts_started is not None
    assert all(
        (by_name[n].finished_at or contacts_started) <= contacts_started
        for n in STAGE_DOMAINS["domains"]
    )
    assert leftovers
    assert set(leftovers.values()) == {0}

    # Counts equal the rows seeded, table by table.
    for d in DOMAINS:
        if d.name == "storage":
            continue
        for step in d.tables:
            assert by_name[d.name].counts.get(step.name, 0) == seeded[step.name], step.name
    assert by_name["storage"].counts == {
        "photos": seeded["photos"],
        "documents": seeded["documents"],
        "imports": seeded["imports"],
        "missing": 0,
        "orphans": 1,
    }

    async with env.sessions() as session:
        after = await snapshot(session, target.id)
        other_after = await snapshot(session, other.id)
        globals_after = await global_snapshot(session)
        audit = (
            await session.scalars(select(AuditLog).where(AuditLog.account_id == target.id))
        ).all()
        completed_events = await session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(
                Outbox.account_id == target.id, Outbox.subject == subjects.ACCOUNT_RESET_COMPLETED
            )
        )
        token_ok = await session.scalar(
            select(ApiToken.id).where(ApiToken.token_hash == hash_token(target.token))
        )
    # Every deleted table is empty for the target; preserved ones are identical.
    for d in DOMAINS:
        for step in d.tables:
            left = after[step.name]
            if step.name == "audit_logs":
                assert [row for row in left if "account_data_reset" not in repr(row)] == []
            else:
                assert left == [], step.name
    for name in ("users", "api_tokens", "account_invitations", "reminder_rules", "genders"):
        assert after[name] == target_before[name], name
    for name in ("contact_field_types", "relationship_types", "life_event_types"):
        assert after[name] == target_before[name], name
    account_before, account_after = target_before["accounts"][0], after["accounts"][0]
    assert account_after[0] == account_before[0]
    assert account_after[1:5] == account_before[1:5]  # name, timezone, locale, phone_format
    assert token_ok is not None
    assert other_after == other_before
    assert globals_after == globals_before
    assert await file_hashes(env.storage_root, target.id) == {}
    assert await file_hashes(env.storage_root, other.id) == other_files

    # One lasting audit row with the requester and per-domain counts; one completed event.
    assert len(audit) == 1
    entry = audit[0]
    assert (entry.event, entry.user_id) == ("account_data_reset", target.admin.id)
    assert entry.metadata_["reset_id"] == admission.reset_id
    assert entry.metadata_["domains"]["notes"] == {"notes": seeded["notes"]}
    assert completed_events == 1


async def _deadlocks(env: ResetEnv) -> int:
    async with env.sessions() as session:
        value = await session.scalar(
            # text(): pg_stat_database has no model.
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )
    return int(value or 0)


async def test_events_are_published_in_stage_order(env: ResetEnv) -> None:
    target = await env.account()
    async with env.sessions() as session, session.begin():
        await seed_account(session, target.id, target.admin.id, storage=env.storage)
    await env.start()
    admission = await env.admit(target)
    await eventually(env.status_is(target, admission.reset_id, "completed"), timeout=120)
    async with env.sessions() as session:
        published = (
            await session.execute(
                select(Outbox.subject, Outbox.created_at)
                .where(Outbox.account_id == target.id)
                .order_by(Outbox.seq)
            )
        ).all()
    # Events of one transaction share created_at: order is by transaction, not within one.
    reset_events = [row.subject for row in published if ".account.reset." in row.subject]
    first_at = {}
    for row in published:
        first_at.setdefault(row.subject, row.created_at)
    stages = [
        first_at[s]
        for s in (
            subjects.ACCOUNT_RESET_ACCEPTED,
            subjects.ACCOUNT_RESET_IMPORTS_STOPPED,
            subjects.ACCOUNT_RESET_STORAGE_STARTED,
            subjects.ACCOUNT_RESET_STARTED,
            subjects.ACCOUNT_RESET_CONTACTS_STARTED,
            subjects.ACCOUNT_RESET_COMPLETED,
        )
    ]
    assert stages == sorted(stages)
    assert (
        first_at[subjects.ACCOUNT_RESET_IMPORTS_STOPPED] > first_at[subjects.ACCOUNT_RESET_ACCEPTED]
    )
    assert (
        first_at[subjects.ACCOUNT_RESET_CONTACTS_STARTED] > first_at[subjects.ACCOUNT_RESET_STARTED]
    )
    assert reset_events.count(subjects.ACCOUNT_RESET_DOMAIN_DONE) == len(DOMAINS)
    assert reset_events.count(subjects.ACCOUNT_RESET_COMPLETED) == 1
    assert max(row.created_at for row in published) == first_at[subjects.ACCOUNT_RESET_COMPLETED]


async def test_empty_account_completes_with_zero_counts_and_a_second_reset_counts_nothing(
    env: ResetEnv,
) -> None:
    target = await env.account()
    await env.start()
    for _ in range(2):
        admission = await env.admit(target)
        view = await eventually(env.status_is(target, admission.reset_id, "completed"), timeout=120)
        assert admission.attempt == 1
        counts: dict[str, Any] = {d.domain: d.counts for d in view.domains}
        assert all(v == 0 for c in counts.values() for v in c.values()), counts
    async with env.sessions() as session:
        audit = await session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.account_id == target.id)
        )
    # reset-audit keeps every account_data_reset entry, an earlier reset's included.
    assert audit == 2
