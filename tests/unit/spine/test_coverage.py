"""CoverageTracker: a failure is reported once, its recovery once; reasons are codes, not paths."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.coverage import CoverageTracker, probe_dir, reason_for_error


def test_reasons_are_codes() -> None:
    assert reason_for_error(PermissionError(errno.EACCES, "denied", "/home/amelia")) == "permission-denied"
    assert reason_for_error(FileNotFoundError(errno.ENOENT, "gone")) == "missing"
    assert reason_for_error(OSError(errno.ESTALE, "stale")) == "unmounted"
    assert reason_for_error(OSError(errno.EIO, "io")) == "io-error"
    assert reason_for_error(ValueError("bad")) == "failed"


def test_probe_dir(tmp_path: Path) -> None:
    assert probe_dir(str(tmp_path)) is None
    assert probe_dir(str(tmp_path / "nope")) == "missing"


def test_failure_reported_once_and_recovery_once() -> None:
    sent: list[Mapping[str, Any]] = []
    tracker = CoverageTracker(lambda kind, body: sent.append({"kind": kind, **body}))
    for _ in range(3):
        tracker.failing("index", "/srv/cases/Amelia", "protected-store", "permission-denied")
    tracker.working("other", "x")  # never failed: nothing to say
    assert tracker.open_count() == 1
    tracker.failing("index", "/srv/cases/Amelia", "protected-store", "unmounted")  # a new reason is news
    tracker.working("index", "/srv/cases/Amelia")
    tracker.working("index", "/srv/cases/Amelia")
    assert [(e["reason"], e["recovered"]) for e in sent] == [
        ("permission-denied", False), ("unmounted", False), ("unmounted", True)]
    assert all("Amelia" not in str(e) for e in sent)
    assert tracker.open_count() == 0
