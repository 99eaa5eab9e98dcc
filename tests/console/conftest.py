"""The whole Kith flow in one background thread, and a headless Chromium driven by Playwright.

Real gateway, importer, dedup, photos and reset runtimes run in-process
(`kith_common.testing.inprocess`); the fake Monica answers over real HTTP. The browser is
Debian's Chromium: if it is missing, these tests fail (CI installs it in `.ci/run`); they never
skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, generate
from kith_common.testing.inprocess import stack_fixture

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def monica() -> Iterator[FakeMonicaServer]:
    world = generate(
        contacts=24,
        seed=11,
        duplicate_ratio=0.25,
        notes_per_contact=0.5,
        relationship_ratio=0.1,
        photos=3,
    )
    with FakeMonicaServer(FakeMonica(world)) as running:
        yield running


stack = pytest.fixture(stack_fixture, name="stack")


@pytest.fixture
def browser() -> Iterator[Any]:
    """A fresh headless Chromium; console errors and failed requests are collected per page."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()
