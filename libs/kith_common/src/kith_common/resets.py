"""Account reset admission and reads (reset.md §2, §4.1), shared by the gateway and reset.

`admit` records the reset and bumps the account generation in the caller's transaction, so
the 202/409 answer is atomic with the insert: from its commit on, no writer of an older
generation can commit (ARCHITECTURE §5). The only guard against two resets of one account is
the partial unique index `account_resets (account_id) WHERE status = 'running'`; nothing here
builds a key from the account id alone, so queued imports, scans or merges never block or
swallow a reset.

Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import fence
from kith_common.bus import outbox
from kith_common.db.models import AccountReset, AccountResetDomain, User
from kith_common.errors import NotFound
from kith_common.events.payloads.resets import AccountResetAccepted, ResetAccount
from kith_common.events.registry import build_envelope
from kith_common.events.subjects import ACCOUNT_RESET, ACCOUNT_RESET_ACCEPTED

__all__ = [
    "DEFAULT_STALL_SECONDS",
    "DOMAINS",
    "STAGE_OF",
    "Admission",
    "DomainView",
    "ResetView",
    "RunningReset",
    "admit",
    "get_reset",
    "list_resets",
    "running_reset",
    "status_url",
]

DEFAULT_STALL_SECONDS = 900

# reset.md §3: every cleanup domain and its stage, in stage order. The table lists and
# filters live with the consumers (kith_reset.domains); a test keeps the two in step.
DOMAINS: tuple[tuple[str, str], ...] = (
    ("storage", "storage"),
    ("imports", "domains"),
    ("dedup", "domains"),
    ("media", "domains"),
    ("notes", "domains"),
    ("conversations", "domains"),
    ("reminders", "domains"),
    ("tasks", "domains"),
    ("journal", "domains"),
    ("activities", "domains"),
    ("audit", "domains"),
    ("contacts", "contacts"),
)
STAGE_OF: dict[str, str] = dict(DOMAINS)

Outcome = Literal["accepted", "retried", "in_progress"]


def status_url(reset_id: int) -> str:
    """The API path of a reset (the 202's `status_url` and `Location`, the 409's link)."""
    return f"/v1/account/resets/{reset_id}"


@dataclass(frozen=True, slots=True)
class Admission:
    """What `admit` decided: a new reset, a retry of a failed or stalled one, or 409.

    `in_progress` means another reset of the account runs (`reset_id` names it): nothing was
    recorded or bumped, answer 409 `reset_in_progress`.
    """

    outcome: Outcome
    reset_id: int
    attempt: int
    generation: int

    @property
    def accepted(self) -> bool:
        return self.outcome != "in_progress"

    @property
    def status(self) -> str:
        return "running"

    @property
    def status_url(self) -> str:
        return status_url(self.reset_id)


@dataclass(frozen=True, slots=True)
class RunningReset:
    """The running reset that answers an account write with 409 `reset_in_progress`."""

    reset_id: int
    attempt: int
    stage: str

    @property
    def status_url(self) -> str:
        return status_url(self.reset_id)


@dataclass(frozen=True, slots=True)
class DomainView:
    domain: str
    stage: str
    status: str
    counts: dict[str, int]
    deliveries: int
    last_error: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ResetView:
    """One reset as `GET /v1/account/resets/{id}` shows it (reset.md §2)."""

    id: int
    status: str
    stage: str
    attempt: int
    generation: int
    requested_by_id: int | None
    requested_by_name: str | None
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    stalled: bool
    error: dict[str, Any] | None
    totals: dict[str, Any]
    domains: list[DomainView] = field(default_factory=list)

    @property
    def status_url(self) -> str:
        return status_url(self.id)


async def admit(
    session: AsyncSession,
    *,
    account_id: int,
    user: User,
    correlation_id: uuid.UUID | None,
    stall_seconds: int = DEFAULT_STALL_SECONDS,
) -> Admission:
    """Admit a reset of `account_id` requested by `user` (reset.md §4.1), in one transaction.

    Bumps the generation (waiting for every writer holding the account row `FOR SHARE`),
    then inserts the reset, or retries the latest one when it failed or stalled (attempt + 1,
    new generation, error cleared), upserts one `pending` row per domain (counts kept) and
    queues `kith.cmd.account.reset` and `reset.accepted` carrying the new generation.

    When a reset of the account runs and is not stalled, everything is undone (bump
    included, through a savepoint) and the answer is `in_progress` with that reset's id. The
    account row lock taken by the bump serializes concurrent admissions of one account; a
    unique violation on the running index (the backstop) is answered the same way.
    """
    savepoint = await session.begin_nested()
    try:
        generation = await fence.bump(session, account_id)
        latest = await session.scalar(
            select(AccountReset)
            .where(AccountReset.account_id == account_id)
            .order_by(AccountReset.requested_at.desc(), AccountReset.id.desc())
            .limit(1)
            .with_for_update()
        )
        if latest is not None and latest.status == "running":
            if not await _is_stalled(session, latest, stall_seconds):
                await savepoint.rollback()
                return Admission("in_progress", latest.id, latest.attempt, latest.generation)
            reset = await _retry(session, latest, generation, user, correlation_id)
            outcome: Outcome = "retried"
        elif latest is not None and latest.status == "failed":
            reset = await _retry(session, latest, generation, user, correlation_id)
            outcome = "retried"
        else:
            reset = await _insert(session, account_id, generation, user, correlation_id)
            outcome = "accepted"
        await _upsert_domains(session, reset)
        await _queue(session, reset)
        await savepoint.commit()
    except IntegrityError:
        await savepoint.rollback()
        running = await running_reset(session, account_id)
        if running is None:
            raise
        current = await session.scalar(
            select(AccountReset.generation).where(AccountReset.id == running.reset_id)
        )
        return Admission("in_progress", running.reset_id, running.attempt, int(current or 0))
    return Admission(outcome, reset.id, reset.attempt, reset.generation)


async def _insert(
    session: AsyncSession,
    account_id: int,
    generation: int,
    user: User,
    correlation_id: uuid.UUID | None,
) -> AccountReset:
    reset = AccountReset(
        account_id=account_id,
        status="running",
        stage="accepted",
        attempt=1,
        generation=generation,
        requested_by_id=user.id,
        requested_by_name=_user_name(user),
        correlation_id=correlation_id,
    )
    session.add(reset)
    await session.flush()
    return reset


async def _retry(
    session: AsyncSession,
    reset: AccountReset,
    generation: int,
    user: User,
    correlation_id: uuid.UUID | None,
) -> AccountReset:
    """reset.md §7: the same reset, attempt + 1, a new generation, every domain re-run."""
    reset.status = "running"
    reset.stage = "accepted"
    reset.attempt += 1
    reset.generation = generation
    reset.error = None
    reset.finished_at = None
    reset.requested_by_id = user.id
    reset.requested_by_name = _user_name(user)
    reset.correlation_id = correlation_id
    await session.flush()
    return reset


async def _upsert_domains(session: AsyncSession, reset: AccountReset) -> None:
    rows = [
        {
            "reset_id": reset.id,
            "account_id": reset.account_id,
            "domain": domain,
            "stage": stage,
            "status": "pending",
        }
        for domain, stage in DOMAINS
    ]
    stmt = insert(AccountResetDomain).values(rows)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[AccountResetDomain.reset_id, AccountResetDomain.domain],
            set_={
                "status": "pending",
                "last_error": None,
                "checkpoint": None,
                "deliveries": 0,
                "heartbeat_at": None,
                "started_at": None,
                "finished_at": None,
                "updated_at": func.now(),
            },
        )
    )


async def _queue(session: AsyncSession, reset: AccountReset) -> None:
    for subject, payload in (
        (ACCOUNT_RESET, ResetAccount(reset_id=reset.id, attempt=reset.attempt)),
        (ACCOUNT_RESET_ACCEPTED, AccountResetAccepted(reset_id=reset.id, attempt=reset.attempt)),
    ):
        envelope = build_envelope(
            subject,
            payload,
            account_id=reset.account_id,
            generation=reset.generation,
            correlation_id=reset.correlation_id,
        )
        await outbox.add(session, subject, envelope)


def _user_name(user: User) -> str:
    return user.display_name or str(user.email)


async def _last_activity(session: AsyncSession, reset: AccountReset) -> dt.datetime:
    heartbeat = await session.scalar(
        select(
            func.max(func.greatest(AccountResetDomain.heartbeat_at, AccountResetDomain.updated_at))
        ).where(AccountResetDomain.reset_id == reset.id)
    )
    latest = reset.updated_at
    if heartbeat is not None and heartbeat > latest:
        latest = heartbeat
    return latest


async def _is_stalled(session: AsyncSession, reset: AccountReset, stall_seconds: int) -> bool:
    """reset.md §7: running, with no domain heartbeat and no reset update for the stall time."""
    if reset.status != "running":
        return False
    now: dt.datetime | None = await session.scalar(select(func.now()))
    assert now is not None
    idle = now - await _last_activity(session, reset)
    return idle > dt.timedelta(seconds=stall_seconds)


async def running_reset(session: AsyncSession, account_id: int) -> RunningReset | None:
    """The account's running reset, if any (the gateway's 409 guard on account writes).

    A failed reset does not lock the account; a stalled one still does until it is retried.
    """
    row = (
        await session.execute(
            select(AccountReset.id, AccountReset.attempt, AccountReset.stage).where(
                AccountReset.account_id == account_id, AccountReset.status == "running"
            )
        )
    ).first()
    if row is None:
        return None
    return RunningReset(reset_id=row.id, attempt=row.attempt, stage=row.stage)


async def get_reset(
    session: AsyncSession,
    account_id: int,
    reset_id: int,
    *,
    stall_seconds: int = DEFAULT_STALL_SECONDS,
) -> ResetView:
    """One reset of the account with its domains.

    Raises:
        NotFound: no such reset in this account (another account's id included).
    """
    reset = await session.scalar(
        select(AccountReset).where(
            AccountReset.account_id == account_id, AccountReset.id == reset_id
        )
    )
    if reset is None:
        msg = f"reset {reset_id} not found"
        raise NotFound(msg, code="reset-not-found")
    return await _view(session, reset, stall_seconds)


async def list_resets(
    session: AsyncSession,
    account_id: int,
    *,
    stall_seconds: int = DEFAULT_STALL_SECONDS,
) -> list[ResetView]:
    """Every reset of the account, newest first."""
    resets = (
        await session.scalars(
            select(AccountReset)
            .where(AccountReset.account_id == account_id)
            .order_by(AccountReset.requested_at.desc(), AccountReset.id.desc())
        )
    ).all()
    return [await _view(session, reset, stall_seconds) for reset in resets]


_STAGE_ORDER = {domain: index for index, (domain, _stage) in enumerate(DOMAINS)}


async def _view(session: AsyncSession, reset: AccountReset, stall_seconds: int) -> ResetView:
    domains = (
        await session.scalars(
            select(AccountResetDomain).where(AccountResetDomain.reset_id == reset.id)
        )
    ).all()
    ordered = sorted(domains, key=lambda d: _STAGE_ORDER.get(d.domain, len(_STAGE_ORDER)))
    return ResetView(
        id=reset.id,
        status=reset.status,
        stage=reset.stage,
        attempt=reset.attempt,
        generation=reset.generation,
        requested_by_id=reset.requested_by_id,
        requested_by_name=reset.requested_by_name,
        requested_at=reset.requested_at,
        started_at=reset.started_at,
        finished_at=reset.finished_at,
        stalled=await _is_stalled(session, reset, stall_seconds),
        error=reset.error,
        totals=reset.totals,
        domains=[
            DomainView(
                domain=d.domain,
                stage=d.stage,
                status=d.status,
                counts={str(k): int(v) for k, v in d.counts.items()},
                deliveries=d.deliveries,
                last_error=d.last_error,
                started_at=d.started_at,
                finished_at=d.finished_at,
            )
            for d in ordered
        ],
    )
