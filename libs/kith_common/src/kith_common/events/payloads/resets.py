"""Payloads of the account reset: the command and the stage events (reset.md §4, §5, §8).

Every reset payload names the reset and its attempt, so handlers drop anything not for the
running attempt; the envelope's generation fences older attempts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kith_common.events.envelope import Payload

__all__ = [
    "AccountResetAccepted",
    "AccountResetCompleted",
    "AccountResetContactsStarted",
    "AccountResetDomainDone",
    "AccountResetDomainFailed",
    "AccountResetDomainProgress",
    "AccountResetFailed",
    "AccountResetImportsStopped",
    "AccountResetStarted",
    "AccountResetStorageStarted",
    "ResetAccount",
    "ResetDomain",
    "ResetFailureDomain",
]

ResetDomain = Literal[
    "storage",
    "imports",
    "dedup",
    "media",
    "notes",
    "conversations",
    "reminders",
    "tasks",
    "journal",
    "activities",
    "audit",
    "contacts",
]
"""A cleanup domain; its consumer's durable is `reset-<domain>` (reset.md §3)."""

ResetFailureDomain = ResetDomain | Literal["orchestrator", "fanin"]
"""Where a reset can fail: a cleanup domain, or the orchestrator or fan-in (reset.md §7)."""

_COUNTS = "Rows deleted per table (files per class for `storage`), accumulated over attempts."


class _ResetStep(Payload):
    reset_id: int = Field(description="The `account_resets` row.")
    attempt: int = Field(ge=1, description="1, then +1 for each retry of a failed reset.")


class ResetAccount(_ResetStep):
    """Run an admitted reset: stop imports, then storage, domains and contacts stages."""


class AccountResetAccepted(_ResetStep):
    """The gateway admitted a reset and bumped the generation."""


class AccountResetImportsStopped(_ResetStep):
    """No import of the account is running any more."""


class AccountResetStorageStarted(_ResetStep):
    """Storage stage: `reset-storage` deletes the account's files."""


class AccountResetStarted(_ResetStep):
    """Domains stage: the ten domain consumers delete their tables in parallel."""


class AccountResetContactsStarted(_ResetStep):
    """Contacts stage: `reset-contacts` deletes contacts and tags, alone and last."""


class AccountResetDomainProgress(_ResetStep):
    """A cleanup consumer's counts so far (at most every 2 s)."""

    domain: ResetDomain
    counts: dict[str, int] = Field(description=_COUNTS)


class AccountResetDomainDone(_ResetStep):
    """A cleanup consumer finished its domain."""

    domain: ResetDomain
    counts: dict[str, int] = Field(description=_COUNTS)


class AccountResetDomainFailed(_ResetStep):
    """A cleanup consumer exhausted its deliveries (published by `reset-dlq`)."""

    domain: ResetFailureDomain
    error: str = Field(description="The last readable error.")


class AccountResetCompleted(_ResetStep):
    """Every stage finished; the `account_data_reset` audit row is written."""

    counts: dict[ResetDomain, dict[str, int]] = Field(
        description="Per domain: rows deleted per table (files per class for `storage`)."
    )


class AccountResetFailed(_ResetStep):
    """The reset failed at one domain; a new POST retries it with attempt + 1."""

    domain: ResetFailureDomain
    error: str = Field(description="The last readable error.")
