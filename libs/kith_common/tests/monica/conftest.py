"""Fixtures: a fake Monica served over real HTTP on 127.0.0.1, fresh per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, generate

TOKEN = "test-token"  # the fake's seeded token


@pytest.fixture
def fake() -> FakeMonica:
    return FakeMonica(
        generate(
            contacts=60,
            seed=5,
            partial_ratio=0.1,
            inactive_ratio=0.05,
            other_book_ratio=0.05,
            id_density=0.7,
        )
    )


@pytest.fixture
def server(fake: FakeMonica) -> Iterator[FakeMonicaServer]:
    with FakeMonicaServer(fake) as running:
        yield running
