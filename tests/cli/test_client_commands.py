"""`kith import|imports|duplicates|reset` as a user runs them: real subprocesses, real gateway.

An import from the fake Monica shows its bar at 100 % and exits 0; a failing import exits
non-zero and says why; the duplicates and a reset are followed to the end.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, generate
from kith_common.testing.inprocess import InProcessStack
from kith_gateway.testing import make_account

KITH = str(Path(sys.executable).with_name("kith"))


def _kith(
    stack: InProcessStack, token: str, *argv: str, timeout: float = 180, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KITH_API_URL": stack.base_url,
        "KITH_TOKEN": token,
        "COLUMNS": "120",
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [KITH, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=stdin,
    )


def test_monica_import_runs_to_100_percent_then_duplicates_and_reset(
    stack: InProcessStack, monica: FakeMonicaServer
) -> None:
    account = stack.call(make_account(stack.sessions))
    token = account.tokens["admin"]
    done = _kith(
        stack,
        token,
        "import",
        "monica",
        "--url",
        monica.url,
        "--key",
        "test-token",
        "--no-auto-merge-duplicates",
        "--region",
        "us",
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"import \d+ started", done.stdout)
    assert "100%" in done.stdout
    assert "completed" in done.stdout
    import_id = re.search(r"import (\d+) started", done.stdout).group(1)  # type: ignore[union-attr]

    shown = _kith(stack, token, "imports", "show", import_id)
    assert shown.returncode == 0, shown.stderr
    assert "completed" in shown.stdout
    as_json = json.loads(_kith(stack, token, "import", "show", import_id, "--json").stdout)
    contacts = as_json["summary"]["contacts"]
    told = _kith(stack, token, "import", "show", import_id)
    assert told.returncode == 0, told.stderr
    assert f"{contacts} contacts imported" in told.stdout  # a sentence, not a table of keys
    assert re.search(r"\d+ requests to Monica, \d+ (s|min)", told.stdout), told.stdout
    assert "✓ Contacts" in told.stdout
    assert "coverage_backfill" not in told.stdout

    listed = _kith(stack, token, "duplicates", "list", "--all")
    assert listed.returncode == 0, listed.stderr
    assert "pending duplicates" in listed.stdout

    scanned = _kith(stack, token, "duplicates", "scan")
    assert scanned.returncode == 0, scanned.stderr
    assert "scan completed:" in scanned.stdout
    auth = {"Authorization": f"Bearer {token}"}
    pairs = httpx.get(f"{stack.base_url}/v1/duplicates", headers=auth).json()["data"]
    assert len(pairs) >= 2
    dismissed = _kith(stack, token, "duplicates", "dismiss", str(pairs[1]["id"]))
    assert dismissed.returncode == 0, dismissed.stderr
    assert "not duplicates" in dismissed.stdout
    keep, lose = pairs[0]["contact"]["id"], pairs[0]["duplicate_contact"]["id"]
    declined = _kith(stack, token, "duplicates", "merge", str(keep), str(lose), stdin="n\n")
    assert declined.returncode == 1
    assert "will be merged into" in declined.stdout  # the preview came first
    merged = _kith(stack, token, "duplicates", "merge", str(keep), str(lose), stdin="y\n")
    assert merged.returncode == 0, merged.stderr
    assert f"contact {lose} is now part of contact {keep}" in merged.stdout
    counts = httpx.get(f"{stack.base_url}/v1/duplicates/counts", headers=auth).json()
    assert counts["dismissed"] == 1
    assert counts["merged"] == 1

    refused = _kith(stack, account.tokens["viewer"], "reset", "--confirm", "RESET")
    assert refused.returncode == 2
    assert "admin" in refused.stderr
    none_yet = _kith(stack, token, "reset", "status")
    assert none_yet.returncode == 2
    assert "never been reset" in none_yet.stderr
    reset = _kith(stack, token, "reset", "--confirm", "RESET")
    assert reset.returncode == 0, reset.stderr
    assert "completed" in reset.stdout
    assert "contacts" in reset.stdout  # the per-domain bars
    status = _kith(stack, token, "reset", "status")
    assert status.returncode == 0, status.stderr
    assert re.search(r"reset \d+ completed", status.stdout)
    assert "  contacts: " in status.stdout
    assert json.loads(_kith(stack, token, "reset", "status", "--json").stdout)["status"] == (
        "completed"
    )


def test_a_running_import_is_cancelled_from_the_command_line(stack: InProcessStack) -> None:
    account = stack.call(make_account(stack.sessions))
    token = account.tokens["editor"]
    slow = FakeMonica(generate(contacts=30, seed=5), latency=0.3)  # a distant Monica
    with FakeMonicaServer(slow) as monica:
        started = _kith(
            stack, token, "import", "monica", "--url", monica.url, "--key", "test-token",
            "--skip-check", "--no-wait",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        import_id = re.search(r"import (\d+) started", started.stdout).group(1)  # type: ignore[union-attr]
        cancelled = _kith(stack, token, "import", "cancel", import_id)
        assert cancelled.returncode == 0, cancelled.stderr
        assert "being cancelled" in cancelled.stdout
        final = _kith(stack, token, "import", "show", import_id, "--follow", "--json")
    assert json.loads(final.stdout)["status"] == "cancelled"
    again = _kith(stack, token, "import", "cancel", import_id)
    assert again.returncode == 2  # nothing left to cancel: refused with the reason
    assert again.stderr.startswith("kith: ")


def test_a_failed_import_exits_non_zero_with_the_reason(
    stack: InProcessStack, monica: FakeMonicaServer
) -> None:
    account = stack.call(make_account(stack.sessions))
    token = account.tokens["editor"]
    checked = _kith(stack, token, "import", "monica", "--url", monica.url, "--key", "wrong")
    assert checked.returncode == 1
    assert "connection check failed" in checked.stderr

    failed = _kith(
        stack, token, "import", "monica", "--url", monica.url, "--key", "wrong", "--skip-check"
    )
    assert failed.returncode == 1
    assert re.search(r"import \d+ failed: .+", failed.stderr), failed.stderr


def test_refusals_exit_2_with_the_reason(stack: InProcessStack, tmp_path: Path) -> None:
    account = stack.call(make_account(stack.sessions))
    no_token = _kith(stack, "", "duplicates", "list")
    assert no_token.returncode == 2
    assert "token" in no_token.stderr
    bad = tmp_path / "people.txt"
    bad.write_text("not a vcard")
    refused = _kith(stack, account.tokens["editor"], "import", "vcard", str(bad))
    assert refused.returncode == 2
    assert ".vcf" in refused.stderr
