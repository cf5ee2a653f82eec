"""Who acts is recorded the same way by every command: ``--by NAME`` as given, in the audit log.

Commands where ``--by`` may be left out record the operating-system account as ``cli:USER``.
Real CLI processes on a real data folder; the audit log is read back with ``audit list``.
"""

from __future__ import annotations

import getpass
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.harness import PYTHON, run_cli

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _audit(data: list[str]) -> list[dict[str, object]]:
    out = run_cli("collector", "audit", "list", "--json", *data).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_every_command_records_its_actor_alike(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    run_cli("collector", "pki", "init", *data)
    for name in ("laptop-1", "laptop-2"):
        run_cli("collector", "devices", "issue", name, "--out", str(tmp_path / name), *data)
    shutil.copy(ROOT / "deploy/policy.example.toml", tmp_path / "policy.toml")
    added = subprocess.run(
        [PYTHON, "-m", "collector", "users", "add", "j.smith", "--role", "staff", "--password-stdin",
         "--by", "it.admin", *data],
        input="Correct-Horse-Battery-9\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    run_cli("collector", "devices", "assign-owner", "laptop-1", "j.smith", "--by", "it.admin", *data)
    run_cli("collector", "devices", "revoke", "laptop-2", "--by", "it.admin", *data)
    run_cli("collector", "policy", "set", str(tmp_path / "policy.toml"), "--by", "it.admin", *data)
    run_cli("collector", "users", "disable", "j.smith", *data)  # no --by: the login name

    actors = {(e["action"], e["actor"]) for e in _audit(data)}
    assert {
        ("console.user_add", "it.admin"),
        ("device.owner_add", "it.admin"),
        ("device.revoke", "it.admin"),
        ("policy.publish", "it.admin"),
        ("console.user_disable", f"cli:{getpass.getuser()}"),
    } <= actors
    shown = json.loads(run_cli("collector", "policy", "show", "--json", *data).stdout)
    assert shown["by"] == "it.admin"
