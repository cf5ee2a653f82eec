"""Degrade, never die: the real agent, as an unprivileged user, with folders it cannot read.

The agent runs under setpriv as uid/gid 65534 (standing in for the service's system user, as
test_deploy_units does) with one unreadable personal folder and one unreadable protected root
(as NFS root_squash or a denied macOS privacy permission leave them). It must keep running,
report ``coverage_degraded`` with a reason and no path to the real collector, still report case
files arriving in the folder it can read, and report ``recovered`` once the permission is fixed.
Needs root (to switch user and set up the folders) and setpriv; fails loudly without them.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import PYTHON, Agent, Collector, run_cli, wait_for
from tests.unit.classify.synthetic import nhs_number

pytestmark = pytest.mark.integration

NOBODY = 65534


def _events(collector: Collector, device: str) -> list[dict[str, Any]]:
    out = run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir), "--device", device,
                  "--json", timeout=120).stdout
    return [json.loads(line) for line in out.splitlines()]


def _coverage(collector: Collector, device: str) -> list[dict[str, Any]]:
    return [e for e in _events(collector, device) if e["kind"] == "coverage_degraded"]


def _case_note(rng: random.Random) -> bytes:
    return ("Child protection strategy meeting. Child: Amelia Testcase, date of birth 01/02/2015, "
            f"NHS number {nhs_number(rng)}. Social worker to update the care plan and safeguarding record.\n"
            ).encode()


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder the unprivileged agent can reach (pytest's tmp_path is root's, mode 0700)."""
    if os.geteuid() != 0:
        pytest.fail("needs root: the agent is switched to an unprivileged user with setpriv", pytrace=False)
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv is missing: install the Debian package `util-linux`", pytrace=False)
    path = Path(tempfile.mkdtemp(prefix="cg-degrade-"))
    path.chmod(0o755)
    yield path
    for sub in path.rglob("*"):
        if sub.is_dir() and not sub.is_symlink():
            sub.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


def test_unreadable_folders_degrade_coverage_and_recover(collector: Collector, base: Path) -> None:
    rng = random.Random(5)
    certs = base / "certs"
    collector.issue("laptop-d", base / "issued")
    shutil.copytree(base / "issued", certs)
    readable = base / "home" / "Readable Sync"
    locked = base / "home" / "Locked Sync"
    casestore = base / "Locked Casestore"
    for folder in (readable, locked, casestore):
        folder.mkdir(parents=True)
    (base / "org.key").write_bytes(os.urandom(32).hex().encode())
    settings = (
        f'[egress]\npersonal_dirs = ["{readable}", "{locked}"]\nsettle_s = 0.5\nretry_s = 1.0\n'
        f'homes = ["{base / "home"}"]\n'
        f'[case_files]\nroots = ["{casestore}"]\n'
        f'[privacy]\norg_key_file = "{base / "org.key"}"\n'
    )
    agent = Agent(base, "laptop-d", [collector.address], certs, settings)
    agent.write_config()
    state = base / "laptop-d-state"
    state.mkdir()
    for path in (state, *certs.iterdir(), certs):
        os.chown(path, NOBODY, NOBODY)
    locked.chmod(0o000)
    casestore.chmod(0o000)
    collector.start()
    log_path = base / "agent.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
             PYTHON, "-m", "agent", "run", "--config", str(agent.config)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        def alive() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"agent exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            return False  # so `alive() or ...` reads as "still running, and ..."

        def degraded(component: str, recovered: bool) -> list[dict[str, Any]]:
            alive()
            return [e for e in _coverage(collector, "laptop-d")
                    if e["component"] == component and e["recovered"] is recovered]

        wait_for(lambda: bool(degraded("index", False)), 30, "coverage_degraded for the protected root")
        wait_for(lambda: bool(degraded("egress-watcher", False)), 30, "coverage_degraded for the personal folder")
        root_event = degraded("index", False)[0]
        folder_event = degraded("egress-watcher", False)[0]
        assert (root_event["reason"], root_event["scope"]) == ("permission-denied", "protected-store")
        assert (folder_event["reason"], folder_event["scope"]) == (
            "permission-denied", "DESTINATION_CLASS_PERSONAL_FOLDER")
        for event in _coverage(collector, "laptop-d"):
            assert str(base) not in json.dumps(event) and "Locked" not in json.dumps(event), event

        # What it can read it still watches.
        (readable / "strategy-notes.txt").write_bytes(_case_note(rng))
        wait_for(lambda: alive() or any(e["kind"] == "case_file_egress" for e in _events(collector, "laptop-d")),
                 30, "case_file_egress from the readable folder")

        # IT fixes the permissions: coverage comes back, without a restart.
        locked.chmod(0o755)
        casestore.chmod(0o755)
        wait_for(lambda: bool(degraded("index", True)), 30, "recovered=true for the protected root")
        wait_for(lambda: bool(degraded("egress-watcher", True)), 30, "recovered=true for the personal folder")
        (locked / "later-notes.txt").write_bytes(_case_note(rng))
        wait_for(lambda: alive() or sum(e["kind"] == "case_file_egress" for e in _events(collector, "laptop-d")) >= 2,
                 30, "case_file_egress from the folder that became readable")
        assert len(degraded("index", False)) == 1, "the same failure is reported once, not on every retry"
        alive()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)
    assert proc.returncode == 0, log_path.read_text()[-3000:]
