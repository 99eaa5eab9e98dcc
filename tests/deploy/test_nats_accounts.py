"""The committed NATS account files are the generator's output, and nats-server accepts them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from kith_common.bus.natsconf import (
    USERS,
    password_variable,
    render_accounts_file,
    render_helm_values,
)
from kith_common.devstack import nats_server_binary

REPO = Path(__file__).resolve().parents[2]
ACCOUNTS = REPO / "deploy" / "nats" / "accounts.conf"
HELM = REPO / "deploy" / "k8s" / "nats" / "values-auth.yaml"
REGENERATE = "make docs (kith docs nats-accounts / nats-helm)"


def test_committed_account_files_match_the_permissions_generator() -> None:
    assert ACCOUNTS.read_text() == render_accounts_file(), f"stale; run `{REGENERATE}`"
    assert HELM.read_text() == render_helm_values(), f"stale; run `{REGENERATE}`"


def test_nats_server_accepts_the_accounts_file_with_every_password_set(tmp_path: Path) -> None:
    main = tmp_path / "nats.conf"
    (tmp_path / "accounts.conf").write_text(ACCOUNTS.read_text())  # includes are relative
    main.write_text(f'jetstream: {{store_dir: "{tmp_path}"}}\ninclude "accounts.conf"\n')
    env = {**os.environ, **{password_variable(user): f"pw-{user}" for user in USERS}}
    checked = subprocess.run(
        [str(nats_server_binary()), "-t", "-c", str(main)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_compose_gives_nats_every_password_and_each_service_its_own_user() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    nats = compose["nats"]
    assert "/etc/nats/accounts.conf" in nats["command"]
    assert any(str(v).startswith("./deploy/nats/accounts.conf:") for v in nats["volumes"])
    assert set(nats["environment"]) == {password_variable(user) for user in USERS}
    for service in USERS[:-1]:
        env = compose[service]["environment"]
        assert env["KITH_NATS_USER"] == service
        assert password_variable(service) in env["KITH_NATS_PASSWORD"]
