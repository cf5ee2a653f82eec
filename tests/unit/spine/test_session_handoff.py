"""What the system agent hands session components lives in state_dir/session, readable by users."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from agent.policy.session_file import (
    HANDOFF_DIR,
    LOCKDOWN_FILE,
    SESSION_POLICY_FILE,
    handoff_problem,
    prepare_handoff,
    read_lockdown,
    read_session_policy,
    write_lockdown,
    write_session_policy,
)
from agent.session_runtime import SessionRuntime
from tests.unit.egress.test_notices import FakeNotifier, RecordingSink, _config


def test_the_agent_opens_the_handoff_folder_to_users_whatever_its_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0o077)  # the service's UMask
    try:
        write_session_policy(_config(tmp_path), 3)
        write_lockdown(tmp_path, "2026-12-04T10:00:00+00:00")
    finally:
        os.umask(old)
    folder = tmp_path / HANDOFF_DIR
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    for name in (SESSION_POLICY_FILE, LOCKDOWN_FILE):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o644
    assert handoff_problem(tmp_path) == ""
    assert read_session_policy(tmp_path) == {"version": 3, "idle_timeout_s": 300.0, "warn_s": 30.0,
                                             "allow_inhibitors": False}  # fmt: skip


def test_files_an_earlier_agent_left_at_the_top_of_state_dir_are_moved_in(tmp_path: Path) -> None:
    (tmp_path / LOCKDOWN_FILE).write_text(json.dumps({"reason": "reported lost"}))
    (tmp_path / SESSION_POLICY_FILE).write_text(json.dumps({"version": 2, "idle_timeout_s": 120}))
    assert not read_lockdown(tmp_path)  # where sessions look, nothing yet
    tmp_path.chmod(0o700)  # as an install made before the handoff folder existed
    assert prepare_handoff(tmp_path)
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o711  # users pass through, never list
    assert read_lockdown(tmp_path)  # a lost laptop stays locked down across the upgrade
    assert (read_session_policy(tmp_path) or {}).get("idle_timeout_s") == 120
    assert not (tmp_path / LOCKDOWN_FILE).exists()


def test_a_session_that_cannot_see_the_handoff_folder_says_so_once_and_again_when_it_can(tmp_path: Path) -> None:
    sink = RecordingSink()
    runtime = SessionRuntime(_config(tmp_path, lock={"enabled": False}), env={}, notifier=FakeNotifier(),  # type: ignore[arg-type]
                             sink=sink)  # fmt: skip
    runtime._handoff_readable()
    runtime._handoff_readable()
    write_session_policy(_config(tmp_path), 1)
    runtime._handoff_readable()
    reports = [(b["component"], b["reason"], b["recovered"]) for k, b in sink.events if k == "coverage_degraded"]
    assert reports == [("session_handoff", "missing", False), ("session_handoff", "missing", True)]
