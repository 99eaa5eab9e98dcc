"""The services as the console shows them: the operator's panel and everyone's banner.

Reads kith_common.presence (every service's heartbeat rows). The banner names a service and a
time only, never a host or a pid: those are on the operator page alone. The gateway itself is
left out of the banner: a page was served, so a gateway runs (another replica's restart is the
operator's business).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.session import STREAM_PREFIX_INFO_KEY
from kith_common.events.parties import SERVICES
from kith_common.import_report import duration
from kith_common.presence import ServiceState, service_states

RECENT_RESTART = dt.timedelta(minutes=2)

# What a signed-in person would miss while a service is away, in their words.
_AWAY: dict[str, tuple[str, str]] = {
    "importer": ("The importer", "imports resume when it is back"),
    "dedup": ("Duplicate detection", "new duplicates are found when it is back"),
    "photos": ("The photo sync", "photo downloads resume when it is back"),
    "reset": ("The reset service", "a requested reset starts when it is back"),
}


@dataclass(frozen=True, slots=True)
class Overview:
    """The database's now and every service's state (the operator page)."""

    now: dt.datetime
    services: list[ServiceState]


async def overview(session: AsyncSession) -> Overview:
    prefix = str(session.info.get(STREAM_PREFIX_INFO_KEY, ""))
    now, states = await service_states(session, prefix, SERVICES)
    return Overview(now, states)


def _ago(seconds: float) -> str:
    """ "a moment ago" (a "0 s ago" reads like a bug), else as the import page says durations."""
    return "a moment ago" if seconds < 5 else f"{duration(int(seconds))} ago"


async def notices(session: AsyncSession) -> list[str]:
    """One sentence per service that is not running, or restarted in the last two minutes.

    A service never recorded (not deployed here, or older than the retention) is not named.
    """
    seen = await overview(session)
    found: list[str] = []
    for state in seen.services:
        if state.service not in _AWAY or not state.seen:
            continue
        name, missed = _AWAY[state.service]
        if not state.running:
            found.append(f"{name} is not running; {missed}.")
        elif state.restarted_at is not None and seen.now - state.restarted_at <= RECENT_RESTART:
            since = (seen.now - state.restarted_at).total_seconds()
            found.append(f"{name} restarted {_ago(since)}; it carries on where it stopped.")
    return found
