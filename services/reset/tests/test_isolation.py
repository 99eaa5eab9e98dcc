"""Isolation as a property (reset.md §9): resetting one account changes no other account.

Three accounts get random amounts of rows in every table and files; one, chosen at random, is
reset. Every other account's rows (column for column), files (path and hash) and account row,
and the global rows, are identical before and after; the target keeps exactly what reset.md
preserves and has no row left in any deleted table.

CI runs a few examples; `--hypothesis-profile=reset-long` runs the spec's ~15 by hand.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kith_common.testing import eventually
from kith_reset.domains import DOMAINS
from kith_reset.testing import file_hashes, global_snapshot, seed_account, snapshot

if TYPE_CHECKING:
    from .conftest import ResetEnv

PRESERVED = (
    "users",
    "api_tokens",
    "account_invitations",
    "reminder_rules",
    "genders",
    "contact_field_types",
    "relationship_types",
    "life_event_types",
    "account_resets",
)
settings.register_profile("reset-long", max_examples=15)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    scales=st.lists(st.integers(min_value=2, max_value=12), min_size=3, max_size=3),
    target_index=st.integers(min_value=0, max_value=2),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    orphans=st.integers(min_value=0, max_value=2),
)
async def test_resetting_one_account_changes_nothing_of_any_other(
    env: ResetEnv, scales: list[int], target_index: int, seed: int, orphans: int
) -> None:
    if not env.harness.runtimes:
        await env.start(batch_size=5)
    rng = random.Random(seed)
    accounts = [await env.account(f"Iso {i}") for i in range(3)]
    async with env.sessions() as session, session.begin():
        for account, scale in zip(accounts, scales, strict=True):
            await seed_account(
                session,
                account.id,
                account.admin.id,
                storage=env.storage,
                scale=scale,
                rng=rng,
                orphan_files=orphans,
            )
    target = accounts[target_index]
    others = [a for a in accounts if a is not target]
    async with env.sessions() as session:
        before = {a.id: await snapshot(session, a.id) for a in accounts}
        globals_before = await global_snapshot(session)
    files_before = {a.id: await file_hashes(env.storage_root, a.id) for a in others}

    admission = await env.admit(target)
    await eventually(env.status_is(target, admission.reset_id, "completed"), timeout=120)

    async with env.sessions() as session:
        after = {a.id: await snapshot(session, a.id) for a in accounts}
        assert await global_snapshot(session) == globals_before
    for other in others:
        assert after[other.id] == before[other.id]
        assert await file_hashes(env.storage_root, other.id) == files_before[other.id]
    reset_rows = after[target.id]
    for d in DOMAINS:
        for step in d.tables:
            left = reset_rows[step.name]
            if step.name == "audit_logs":
                assert len(left) == 1  # the one account_data_reset entry
            else:
                assert left == [], step.name
    for name in PRESERVED[:-1]:
        assert reset_rows[name] == before[target.id][name], name
    assert reset_rows["accounts"][0][:5] == before[target.id]["accounts"][0][:5]
    assert await file_hashes(env.storage_root, target.id) == {}
