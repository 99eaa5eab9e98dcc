"""The console shows services that are away or just restarted (issue 21).

The rows are the heartbeats services write (kith_common.presence), placed directly so each
case is exact: a stale heartbeat, a restart, replicas, another deployment's rows.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import ServiceInstance
from kith_common.presence import Heartbeat
from kith_common.settings import Settings
from kith_gateway.testing import TestAccount, console_sign_in

HOST = "node-7.internal"


async def _sign_in(client: httpx.AsyncClient, token: str) -> None:
    client.cookies.clear()
    signed = await console_sign_in(client, token)
    client.cookies.set("kith_console", signed.cookies["kith_console"], path="/console")


def _banner(page: str) -> list[str]:
    found = re.search(
        r'<div class="service-banner" id="service-banner" role="status">(.*?)</div>', page, re.S
    )
    return re.findall(r"<p>(.*?)</p>", found.group(1)) if found else []


def _row(page: str, service: str) -> str:
    found = re.search(rf'<tr data-service="{service}">(.*?)</tr>', page, re.S)
    assert found is not None, f"no row for {service}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


async def _instance(
    sessions: async_sessionmaker[AsyncSession],
    prefix: str,
    service: str,
    *,
    started: float,
    seen: float,
    stopped: float | None = None,
    pid: int = 4242,
) -> None:
    """A row for `service` started, last seen and maybe stopped that many seconds ago."""
    now = dt.datetime.now(dt.UTC)
    async with sessions() as session, session.begin():
        session.add(
            ServiceInstance(
                instance_id=uuid.uuid4(),
                stream_prefix=prefix,
                service=service,
                host=HOST,
                pid=pid,
                started_at=now - dt.timedelta(seconds=started),
                last_seen_at=now - dt.timedelta(seconds=seen),
                stopped_at=None if stopped is None else now - dt.timedelta(seconds=stopped),
                beat_seconds=10.0,
            )
        )


async def test_a_stale_heartbeat_and_a_restart_show_in_the_banner_and_the_operator_panel(
    client: httpx.AsyncClient,
    acct: TestAccount,
    operator_token: str,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    prefix = settings.stream_prefix
    await _sign_in(client, acct.tokens["viewer"])
    assert _banner((await client.get("/console/contacts")).text) == []  # nothing known yet

    # The importer crashed five minutes ago: its heartbeat is stale, nothing stopped it.
    await _instance(sessions, prefix, "importer", started=3600, seen=300)
    # dedup stopped 60 s ago and came back 40 s ago.
    await _instance(sessions, prefix, "dedup", started=3000, seen=60, stopped=60, pid=11)
    await _instance(sessions, prefix, "dedup", started=40, seen=1, pid=12)
    # photos runs two replicas started together: not a restart.
    await _instance(sessions, prefix, "photos", started=600, seen=2, pid=21)
    await _instance(sessions, prefix, "photos", started=600, seen=3, pid=22)
    # Another deployment sharing the database: its dead reset is not ours.
    await _instance(sessions, prefix + "other-", "reset", started=900, seen=800)

    page = (await client.get("/console/contacts")).text
    banner = _banner(page)
    assert banner[0] == "The importer is not running; imports resume when it is back."
    assert re.fullmatch(
        r"Duplicate detection restarted 4\d s ago; it carries on where it stopped\.", banner[1]
    ), banner
    assert len(banner) == 2
    assert HOST not in page
    assert "4242" not in page
    # Every page carries it, error pages too.
    missing = await client.get("/console/contacts/999999")
    assert missing.status_code == 404
    assert len(_banner(missing.text)) == 2

    await _sign_in(client, operator_token)
    panel = (await client.get("/console/operator")).text
    assert re.fullmatch(
        r"importer not running not seen for (29\d|30\d) s .* 0", _row(panel, "importer")
    )
    assert _row(panel, "dedup").startswith("dedup up ")
    assert re.search(r" 1 \(last \d\d:\d\d:\d\d\) node-7\.internal pid 12$", _row(panel, "dedup"))
    assert _row(panel, "photos").endswith(" 0 node-7.internal pid 21, node-7.internal pid 22")
    assert _row(panel, "reset") == "reset never seen 0"
    assert len(_banner(panel)) == 2
    client.cookies.clear()


async def test_a_restart_seconds_ago_reads_a_moment_ago(
    client: httpx.AsyncClient,
    acct: TestAccount,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Not "restarted 0 s ago": the banner a user sees right after a restart reads naturally."""
    prefix = settings.stream_prefix
    await _instance(sessions, prefix, "reset", started=400, seen=3, stopped=3, pid=31)
    await _instance(sessions, prefix, "reset", started=1, seen=1, pid=32)
    await _sign_in(client, acct.tokens["viewer"])
    banner = _banner((await client.get("/console/contacts")).text)
    assert banner == ["The reset service restarted a moment ago; it carries on where it stopped."]
    client.cookies.clear()


async def test_a_runtime_heartbeat_records_beats_and_marks_a_clean_stop(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    beat = Heartbeat(sessions, "importer", settings.stream_prefix, 10.0)
    await beat.start()
    async with sessions() as session:
        row = await session.get(ServiceInstance, beat.instance_id)
        assert row is not None
        first_seen = row.last_seen_at
        assert row.stopped_at is None
    await beat.beat()
    await beat.stop()
    async with sessions() as session:
        row = await session.get(ServiceInstance, beat.instance_id)
        assert row is not None
        assert row.last_seen_at > first_seen
        assert row.stopped_at is not None


async def test_rows_of_instances_gone_for_a_day_are_pruned_but_each_services_newest_stays(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    prefix = settings.stream_prefix
    day = 86400
    await _instance(sessions, prefix, "importer", started=3 * day, seen=2 * day, pid=1)
    await _instance(sessions, prefix, "importer", started=2 * day, seen=2 * day - 5, pid=2)
    await _instance(sessions, prefix, "dedup", started=3 * day, seen=2 * day, pid=3)
    beat = Heartbeat(sessions, "photos", prefix, 10.0)
    await beat.start()  # the first beat prunes
    async with sessions() as session:
        rows = await session.scalars(
            select(ServiceInstance.pid).where(ServiceInstance.stream_prefix == prefix)
        )
        left = sorted(rows.all())
    assert left == sorted([2, 3, beat.pid])
