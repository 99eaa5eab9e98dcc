"""docker-compose.yml, .env.example and the Dockerfile."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from . import validate

ROOT = validate.REPO


def test_compose_matches_the_compose_specification_schema() -> None:
    assert validate.compose_schema_errors(ROOT) == []


def test_compose_passes_check_jsonschema_as_ci_runs_it() -> None:
    cli = Path(sys.executable).parent / "check-jsonschema"
    proc = subprocess.run(
        [str(cli), "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_services_match_the_code_contract(contract: validate.Contract) -> None:
    assert validate.compose_errors(ROOT, contract) == []


def test_env_example_documents_every_setting_and_every_compose_variable(
    contract: validate.Contract,
) -> None:
    assert validate.env_example_errors(ROOT, contract) == []


def test_compose_runs_without_an_env_file(contract: validate.Contract) -> None:
    _, _, variables = validate.load_compose(ROOT)
    assert variables, "compose reads no variables?"
    assert [v.name for v in variables if v.default is None] == []


def test_dockerfile_builds_one_non_root_image_for_every_service(
    contract: validate.Contract,
) -> None:
    assert validate.dockerfile_errors(ROOT, contract) == []


def test_dockerignore_semantics() -> None:
    patterns = ["**", "!services/*/src/**", "**/__pycache__"]
    assert validate._dockerignore_excludes(patterns, ".git/config")
    assert not validate._dockerignore_excludes(patterns, "services/dedup/src/kith_dedup/app.py")
    assert validate._dockerignore_excludes(
        patterns, "services/dedup/src/kith_dedup/__pycache__/a.pyc"
    )
