"""Issue #8: two processes of every worker on one NATS and one PostgreSQL handle each message
once (ARCHITECTURE §3–4, deploy.md §9 "with 3 importers a start command runs once").

One stack: a gateway and two `kith serve` processes each of importer, dedup, photos and reset.
Several accounts import the same fake Monica data (a few hundred contacts with duplicates and
photos) at the same time, so each durable has more than one message to share out. Then:

- every published message (counted from the outbox, cross-checked against KITH_EVT's per-subject
  counts) is handled with outcome `ok` exactly once, summed over both replicas' `/metrics`, for
  every durable bound on the command and event streams, and nothing is dead-lettered;
- no second effect: the accounts end identical (contacts, fields, notes, photos, candidates), each
  full Monica contact is imported exactly once (one import record per Monica id, as many as the
  fake holds), and the photo rows equal the sync summary's `synced`;
- the work was spread: both replicas of some worker handled messages;
- an account reset through the gateway, with two reset processes, completes once (one
  `account_data_reset` audit row, one `account.reset.completed` event).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import nats
import pytest
from prometheus_client.samples import Sample
from sqlalchemy import func, select

from kith_common.db.models import (
    AuditLog,
    Contact,
    DuplicateCandidate,
    ImportRecord,
    Outbox,
    Photo,
)
from kith_common.events import subjects
from kith_common.testing import eventually
from kith_common.testing.bus import drop_streams
from kith_common.testing.fake_monica import FakeMonica, generate
from kith_common.testing.stack import WORKERS, Stack, sample_sum
from kith_importer.testing import snapshot

pytestmark = pytest.mark.slow

ACCOUNTS = 3
REPLICAS = {"gateway": 1, **dict.fromkeys(WORKERS, 2)}
HANDLED = "kith_bus_messages_handled_total"


def _fake() -> FakeMonica:
    world = generate(
        contacts=200,
        seed=8,
        partial_ratio=0.03,
        duplicate_ratio=0.1,
        notes_per_contact=0.3,
        relationship_ratio=0.1,
        photos=12,
    )
    return FakeMonica(world, rate_limit=0)


def _matches(filter_subject: str, subject: str) -> bool:
    """NATS subject matching (`*` one token, `>` the rest)."""
    pattern, tokens = filter_subject.split("."), subject.split(".")
    for i, part in enumerate(pattern):
        if part == ">":
            return len(tokens) > i
        if i >= len(tokens) or (part != "*" and part != tokens[i]):
            return False
    return len(pattern) == len(tokens)


async def _published(stack: Stack) -> Counter[str]:
    """Messages this stack published per logical subject, once all are sent.

    Counted by the outbox rows' stream prefix, not by account: a dedup process also
    renormalizes other accounts found in the shared test database (its start-up key-version
    check), and those messages travel on this stack's streams too.
    """

    async def all_sent() -> Counter[str] | None:
        async with stack.sessions() as session:
            rows = (
                await session.execute(
                    select(Outbox.subject, Outbox.sent_at).where(
                        Outbox.stream_prefix == stack.stream_prefix
                    )
                )
            ).all()
        if any(sent is None for _, sent in rows):
            return None
        return Counter(subject for subject, _ in rows)

    counts = await eventually(all_sent, timeout=30, what="every outbox row sent")
    assert counts is not None
    return counts


async def _samples(stack: Stack, service: str) -> list[list[Sample]]:
    return [await stack.metrics(service, i) for i in range(stack.replicas[service])]


async def _durables(stack: Stack) -> list[tuple[str, str, str]]:
    """(stream, durable, logical filter subject) of every durable bound on CMD and EVT."""
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        found = []
        for base in (subjects.STREAM_CMD, subjects.STREAM_EVT):
            stream = subjects.stream_name(base, stack.stream_prefix)
            for info in await js.consumers_info(stream):
                durable = info.config.durable_name
                if durable:
                    logical = (info.config.filter_subject or ">").removeprefix(
                        f"{stack.stream_prefix}."
                    )
                    found.append((base, durable, logical))
        return found
    finally:
        await nc.close()


async def _evt_subject_counts(stack: Stack) -> dict[str, int]:
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        stream = subjects.stream_name(subjects.STREAM_EVT, stack.stream_prefix)
        info = await js.stream_info(stream, subjects_filter=">")
        return {
            s.removeprefix(f"{stack.stream_prefix}."): n
            for s, n in (info.state.subjects or {}).items()
        }
    finally:
        await nc.close()


async def _effects(stack: Stack, account_id: int) -> dict[str, Any]:
    """The account's end state in a form comparable across accounts."""
    async with stack.sessions() as session:
        alive = await session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(
                Contact.account_id == account_id,
                Contact.deleted_at.is_(None),
                Contact.merged_into_id.is_(None),
            )
        )
        records = (
            await session.execute(
                select(ImportRecord.source_entity_id, func.count())
                .where(
                    ImportRecord.account_id == account_id,
                    ImportRecord.source_entity_type == "contact",
                )
                .group_by(ImportRecord.source_entity_id)
            )
        ).all()
        photos = await session.scalar(
            select(func.count()).select_from(Photo).where(Photo.account_id == account_id)
        )
        candidates = (
            await session.execute(
                select(DuplicateCandidate.status, func.count())
                .where(DuplicateCandidate.account_id == account_id)
                .group_by(DuplicateCandidate.status)
            )
        ).all()
    assert all(n == 1 for _, n in records), "a Monica contact was imported twice"
    return {
        "alive": alive,
        "monica_contacts": len(records),
        "photos": photos,
        "candidates": dict(candidates),
        "snapshot": await snapshot(stack.sessions, account_id),
    }


async def _start_imports(stack: Stack) -> list[tuple[int, str, int]]:
    accounts = [await stack.create_account(f"Replica {i}") for i in range(ACCOUNTS)]

    async def start(token: str) -> int:
        async with stack.api(token) as api:
            answer = await api.post(
                "/v1/imports",
                json={
                    "source": "monica_api",
                    "api_url": stack.monica_url,
                    "api_key": "test-token",
                    "options": {"photos": True},
                },
            )
        assert answer.status_code == 202, answer.text
        return int(answer.json()["id"])

    import_ids = await asyncio.gather(*(start(token) for _, token in accounts))
    return [(a, t, i) for (a, t), i in zip(accounts, import_ids, strict=True)]


async def _scan_completed(stack: Stack, account_id: int) -> bool:
    async with stack.sessions() as session:
        n = await session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(
                Outbox.account_id == account_id,
                Outbox.subject == subjects.DEDUP_SCAN_COMPLETED,
                Outbox.sent_at.is_not(None),
            )
        )
    return bool(n)


async def _reset(stack: Stack, account_id: int, token: str) -> None:
    async with stack.api(token) as api:
        answer = await api.post("/v1/account/reset", json={"confirm": "RESET"})
        assert answer.status_code == 202, answer.text
        status_url = answer.json()["status_url"]

        async def finished() -> dict[str, Any] | None:
            row: dict[str, Any] = (await api.get(status_url)).json()
            return row if row["status"] in ("completed", "failed") else None

        row = await eventually(finished, timeout=90, interval=0.3, what="reset finished")
    assert row["status"] == "completed", row
    async with stack.sessions() as session:
        audit = await session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.account_id == account_id, AuditLog.event == "account_data_reset")
        )
        alive = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.account_id == account_id)
        )
    assert audit == 1
    assert alive == 0


def _check_once(
    durables: list[tuple[str, str, str]],
    published: Counter[str],
    samples: dict[str, list[list[Sample]]],
) -> list[str]:
    """Every durable handled each message on its subject once (`ok`), none dead-lettered."""
    problems = []
    for _, durable, filter_subject in durables:
        expected = sum(n for s, n in published.items() if _matches(filter_subject, s))
        per_replica = [
            {
                outcome: sample_sum(replica, HANDLED, consumer=durable, outcome=outcome)
                for outcome in ("ok", "duplicate", "stale", "retried", "dead_lettered")
            }
            for replicas in samples.values()
            for replica in replicas
        ]
        ok = sum(r["ok"] for r in per_replica)
        dead = sum(r["dead_lettered"] for r in per_replica)
        if ok != expected or dead:
            problems.append(f"{durable} on {filter_subject}: published {expected}, {per_replica}")
    return problems


async def test_two_replicas_of_every_worker_handle_each_message_once(
    database_url: str, nats_url: str, stream_prefix: str, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    stack = Stack(
        database_url,
        nats_url,
        stream_prefix,
        tmp_path,
        replicas=REPLICAS,
        fake=_fake(),
        ready_timeout=180,
    )
    try:
        async with stack:
            print(f"{time.monotonic() - t0:.1f} s: stack ready")
            started = await _start_imports(stack)
            for _, token, import_id in started:
                row = await stack.wait_import(token, import_id, media=True, misc=True, timeout=150)
                assert row["status"] == "completed", row
                assert row["media_status"] == "completed", row
                assert row["misc_status"] == "completed", row
                assert row["sync_summary"]["synced"] > 0, row["sync_summary"]
            print(f"{time.monotonic() - t0:.1f} s: imports done")
            for account_id, _, _ in started:
                await eventually(
                    lambda a=account_id: _scan_completed(stack, a),
                    timeout=60,
                    what=f"incremental scan of account {account_id} completed",
                )
            async with stack.api(started[0][1]) as api:
                duplicates = (await api.get("/v1/duplicates")).json()
            assert duplicates["data"], "the incremental scan found no candidates"

            # No second effect: every account holds exactly the same data.
            effects = [await _effects(stack, a) for a, _, _ in started]
            assert all(e == effects[0] for e in effects[1:])
            # ... and exactly what Monica holds: each full contact imported once.
            full = [c for c in stack.fake.world.contacts.values() if not c.is_partial]
            assert effects[0]["monica_contacts"] == len(full)
            assert effects[0]["candidates"].get("pending", 0) > 0
            for (_, token, import_id), effect in zip(started, effects, strict=True):
                row = await stack.wait_import(token, import_id, media=True)
                assert effect["photos"] == row["sync_summary"]["synced"]

            # Each message handled once, summed over both replicas of each worker.
            reset_account, reset_token = started[-1][0], started[-1][1]
            await _reset(stack, reset_account, reset_token)
            print(f"{time.monotonic() - t0:.1f} s: reset done")
            published = await _published(stack)
            for subject, n in (await _evt_subject_counts(stack)).items():
                assert published[subject] == n, f"{subject}: outbox vs stream {n}"
            assert published[subjects.IMPORT_START] == ACCOUNTS
            assert published[subjects.ACCOUNT_RESET] == 1
            assert published[subjects.ACCOUNT_RESET_COMPLETED] == 1
            durables = await _durables(stack)
            bound = {d for _, d, _ in durables}
            assert {"importer-start", "dedup-import-scan", "photos-import-completed"} <= bound

            async def handled_once() -> bool:
                samples = {s: await _samples(stack, s) for s in WORKERS}
                problems = _check_once(durables, published, samples)
                assert not problems, "\n".join(problems)
                return True

            await eventually(handled_once, timeout=30, interval=0.5, what="each handled once")

            # The work was shared: both replicas of some worker finished messages.
            spread = []
            for service in WORKERS:
                per_replica = [
                    sample_sum(r, HANDLED, outcome="ok") for r in await _samples(stack, service)
                ]
                if all(n > 0 for n in per_replica):
                    spread.append(service)
            print(f"durables {sorted(bound)}; published {dict(published)}; spread {spread}")
            assert spread, "one replica of every worker did all the work"
    finally:
        await drop_streams(nats_url, stream_prefix)
