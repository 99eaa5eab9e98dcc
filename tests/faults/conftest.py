"""The fault suite's journey and its end-state snapshot, shared by the fault tests.

One journey per trial, on a fresh account of one running `Stack`: import from the fake Monica
with photos, documents and misc data → wait until the import, its misc and media phases and
the incremental dedup have settled → merge the first candidate (ordered by names, so every
account merges the same pair) → snapshot. A trial passes when its snapshot equals the
uninterrupted baseline's: nothing lost, nothing doubled, no manual step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import (
    Contact,
    ContactField,
    Document,
    DuplicateCandidate,
    ImportRecord,
    Note,
    Photo,
)
from kith_common.testing.stack import Stack

Snapshot = dict[str, Any]
Journey = Callable[[Stack], Awaitable[Snapshot]]
SETTLE_SECONDS = 240.0
_T = TypeVar("_T")


async def _retrying(
    call: Callable[[], Awaitable[httpx.Response]], deadline: float
) -> httpx.Response:
    """A gateway being killed refuses connections for a moment: try again until it is back."""
    while True:
        try:
            answer = await call()
        except httpx.TransportError:
            answer = None
        if answer is not None and answer.status_code < 500:
            return answer
        assert time.monotonic() < deadline, answer.text if answer is not None else "no answer"
        await asyncio.sleep(0.5)


async def snapshot(sessions: async_sessionmaker[AsyncSession], account_id: int) -> Snapshot:
    """What a user would see of the account, as counts (ids differ between accounts)."""
    counts: Snapshot = {}
    async with sessions() as session:
        for name, model, extra in (
            ("contacts_live", Contact, Contact.merged_into_id.is_(None)),
            ("contacts_merged", Contact, Contact.merged_into_id.is_not(None)),
            ("fields", ContactField, None),
            ("notes", Note, None),
            ("photos", Photo, None),
            ("documents", Document, None),
            ("import_records", ImportRecord, None),
        ):
            query = select(func.count()).select_from(model).where(model.account_id == account_id)
            if extra is not None:
                query = query.where(extra)
            counts[name] = int(await session.scalar(query) or 0)
        rows = await session.execute(
            select(DuplicateCandidate.status, func.count())
            .where(DuplicateCandidate.account_id == account_id)
            .group_by(DuplicateCandidate.status)
        )
        counts["candidates"] = {status: int(n) for status, n in rows.all()}
    return counts


async def run_journey(stack: Stack) -> Snapshot:
    """Import, settle, merge the first candidate, settle: returns the end-state snapshot."""
    deadline = time.monotonic() + SETTLE_SECONDS
    account_id, token = await _db_retrying(lambda: stack.create_account("Fault"), deadline)
    async with stack.api(token) as api:
        started = await _retrying(
            lambda: api.post(
                "/v1/imports",
                json={
                    "api_url": stack.monica_url,
                    "api_key": "test-token",
                    "options": {"photos": True, "documents": True, "auto_merge_duplicates": False},
                },
            ),
            deadline,
        )
        if started.status_code == 409:  # the first POST was committed before a gateway kill
            listed = await _retrying(lambda: api.get("/v1/imports"), deadline)
            import_id = listed.json()["data"][0]["id"]
        else:
            assert started.status_code == 202 or started.status_code == 201, started.text
            import_id = started.json()["id"]
        while True:
            row = (await _retrying(lambda: api.get(f"/v1/imports/{import_id}"), deadline)).json()
            phases = (row["misc_status"], row["media_status"])
            if row["status"] in ("completed", "failed", "cancelled") and not (
                {"pending", "processing"} & set(phases)
            ):
                break
            assert time.monotonic() < deadline, row
            await asyncio.sleep(0.5)
        assert row["status"] == "completed", row
        before = await _settled(stack, account_id, deadline)
        while True:  # a killed dedup's scan comes back only after its ack_wait: wait for it
            candidates = (
                await _retrying(
                    lambda: api.get("/v1/duplicates?status=pending&limit=100"), deadline
                )
            ).json()["data"]
            if candidates:
                break
            assert time.monotonic() < deadline, before
            await asyncio.sleep(1)
        pair = min(
            candidates,
            key=lambda c: (c["contact"]["display_name"], c["duplicate_contact"]["display_name"]),
        )
        body = {
            "survivor_id": pair["contact"]["id"],
            "loser_id": pair["duplicate_contact"]["id"],
            "candidate_id": pair["id"],
        }
        accepted = await _retrying(lambda: api.post("/v1/merges", json=body), deadline)
        assert accepted.status_code in (202, 409), accepted.text  # 409: already merged
        while True:
            loser = (
                await _retrying(lambda: api.get(f"/v1/contacts/{body['loser_id']}"), deadline)
            ).json()
            if loser.get("merged_into_id") == body["survivor_id"]:
                break
            assert time.monotonic() < deadline, loser
            await asyncio.sleep(0.5)
    return await _settled(stack, account_id, deadline)


async def _db_retrying(call: Callable[[], Awaitable[_T]], deadline: float) -> _T:
    """The test's own database work, tried again while PostgreSQL restarts (that trial cuts
    this test's connections too)."""
    while True:
        try:
            return await call()
        except (OSError, DBAPIError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _settled(stack: Stack, account_id: int, deadline: float) -> Snapshot:
    """The snapshot once it stops changing (three equal readings a second apart)."""
    last = await _db_retrying(lambda: snapshot(stack.sessions, account_id), deadline)
    same = 0
    while same < 3:
        await asyncio.sleep(1)
        now = await _db_retrying(lambda: snapshot(stack.sessions, account_id), deadline)
        same = same + 1 if now == last else 0
        last = now
        assert time.monotonic() < deadline, last
    return last


@pytest.fixture
def journey() -> Journey:
    return run_journey
