"""The whole Kith flow in one background thread, for the `kith` client commands to talk to.

Real gateway, importer, dedup, photos and reset runtimes run in-process
(`kith_common.testing.inprocess`); the fake Monica answers over real HTTP. The CLI runs as a
real subprocess, as a user would run it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, generate
from kith_common.testing.inprocess import stack_fixture


@pytest.fixture
def monica() -> Iterator[FakeMonicaServer]:
    world = generate(
        contacts=24, seed=11, duplicate_ratio=0.25, notes_per_contact=0.5, relationship_ratio=0.1
    )
    with FakeMonicaServer(FakeMonica(world)) as running:
        yield running


stack = pytest.fixture(stack_fixture, name="stack")
