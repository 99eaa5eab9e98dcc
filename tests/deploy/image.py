"""The image's builder stage replayed without a Docker engine (tests/deploy/test_image.py).

The Dockerfile's builder stage is run instruction by instruction in a temporary directory:
COPY takes from a build context that holds only what `.dockerignore` admits (of the files git
knows), RUN `uv sync ...` runs as written with this machine's uv, `/opt/kith` mapped to a
temporary virtualenv and `/usr/local/bin/python3` to this Python, and the `rm -rf` that follows
it too. Other RUNs (installing uv itself) are skipped. What ends up in the virtualenv is what
the runtime stage copies to /opt/kith.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import validate

IMAGE_ENV = "/opt/kith"
IMAGE_PYTHON = "/usr/local/bin/python3"

# Run inside the built virtualenv (python -I): every module of the six packages imports, every
# service's runtime builds, and the installed distributions are listed.
_PROBE = r"""
import importlib, importlib.metadata as md, json, pkgutil, sys
from kith_common.settings import Settings
errors, modules = [], 0
for top in ("kith_common", "kith_gateway", "kith_importer", "kith_dedup", "kith_photos",
            "kith_reset"):
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        if ".migrations." in info.name + ".":
            continue
        try:
            importlib.import_module(info.name)
            modules += 1
        except Exception as err:
            errors.append(f"{info.name}: {type(err).__name__}: {err}")
built = []
for ep in md.entry_points(group="kith.services"):
    ep.load()(Settings())
    built.append(ep.name)
dists = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in md.distributions()}
plugins = [ep.value for ep in md.entry_points(group="pytest11")]
print(json.dumps({"errors": errors, "modules": modules, "built": sorted(built), "dists": dists,
                  "pytest_plugins": plugins}))
"""


@dataclass(frozen=True)
class BuiltImage:
    venv: Path
    site_packages: Path
    dists: dict[str, str]
    modules: int
    import_errors: list[str]
    services: list[str]
    pytest_plugins: list[str]


def _uv() -> str:
    found = validate.venv_tool("uv")
    if not found:
        msg = "uv not found: `make install` puts it in the virtualenv"
        raise RuntimeError(msg)
    return found


def _run(argv: list[str], what: str, **kwargs: Any) -> str:
    """Run a step of the replay; its stdout, or an error carrying its output."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        msg = f"{what} failed:\n{proc.stdout}{proc.stderr}"
        raise RuntimeError(msg)
    return proc.stdout


def build_context(root: Path, dest: Path) -> Path:
    """The files `docker build .` would send: git's files that .dockerignore admits."""
    listed = _run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], "git ls-files", cwd=root
    ).splitlines()
    ignore = [
        line.strip()
        for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for rel in listed:
        if (root / rel).is_file() and not validate._dockerignore_excludes(ignore, rel):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, dest / rel)
    return dest


def _copy(context: Path, workdir: Path, sources: list[str], target: str) -> None:
    to = workdir / target
    for source in sources:
        origin = context / source
        if origin.is_dir():
            shutil.copytree(
                origin, to if len(sources) == 1 else to / origin.name, dirs_exist_ok=True
            )
        else:
            into = to / origin.name if target.endswith("/") or len(sources) > 1 else to
            into.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, into)


# For the test suite: the same packages, placed faster (hard links from uv's cache, no
# bytecode compiled ahead). The size recorded in deploy/README.md is measured without this.
FAST = {"UV_COMPILE_BYTECODE": "0", "UV_LINK_MODE": "hardlink"}


def replay_builder(root: Path, tmp: Path, overrides: dict[str, str] | None = None) -> BuiltImage:
    """Run the Dockerfile's builder stage from the build context into `tmp/opt-kith`."""
    import dockerfile

    context = build_context(root, (tmp / "context"))
    venv = tmp / "opt-kith"
    python = getattr(sys, "_base_executable", sys.executable)
    commands = dockerfile.parse_file(str(root / "Dockerfile"))
    froms = [i for i, c in enumerate(commands) if c.cmd == "FROM"]
    builder = commands[froms[0] : froms[1]]
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    workdir = tmp / "root"
    for c in builder:
        if c.cmd == "ENV":
            pairs = list(c.value)
            env.update(
                {
                    pairs[i]: pairs[i + 1].replace(IMAGE_ENV, str(venv))
                    for i in range(0, len(pairs), 2)
                }
            )
        elif c.cmd == "WORKDIR":
            workdir = tmp / "root" / c.value[0].lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif c.cmd == "COPY" and not c.flags:
            _copy(context, workdir, list(c.value[:-1]), c.value[-1])
        elif c.cmd == "RUN" and c.value[0].lstrip().startswith("uv "):
            # `uv sync ... && rm ... && sed ...`: run as written, paths mapped.
            env.update(overrides or {})
            script = (
                c.value[0]
                .replace(IMAGE_ENV, str(venv))
                .replace(IMAGE_PYTHON, python)
                .replace("uv sync", f"{_uv()} sync", 1)
            )
            _run(["bash", "-c", script], f"builder RUN {script}", cwd=workdir, env=env)
    probe = _run(
        [str(venv / "bin" / "python"), "-I", "-c", _PROBE],
        "the built environment",
        cwd=tmp,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp)},
    )
    report: dict[str, Any] = json.loads(probe.strip().splitlines()[-1])
    site = next((venv / "lib").glob("python3*/site-packages"))
    return BuiltImage(
        venv=venv,
        site_packages=site,
        dists=report["dists"],
        modules=report["modules"],
        import_errors=report["errors"],
        services=report["built"],
        pytest_plugins=report["pytest_plugins"],
    )


def locked_runtime(root: Path) -> dict[str, str]:
    """What uv.lock says the image holds: `uv export --no-dev` (markers for this platform)."""
    from packaging.markers import Marker
    from packaging.requirements import Requirement

    out = _run(
        [
            _uv(),
            "export",
            "--frozen",
            "--no-dev",
            "--all-packages",
            "--no-emit-workspace",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
            "--format",
            "requirements-txt",
        ],
        "uv export",
        cwd=root,
    )
    pins = {}
    for line in out.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        req = Requirement(line)
        if req.marker is None or Marker(str(req.marker)).evaluate():
            pins[req.name.lower().replace("_", "-")] = str(req.specifier).removeprefix("==")
    return pins


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
