"""The notice the person at the laptop sees when a case file lands where it must not (issue 13)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig, EgressSettings, parse_config
from agent.egress.model import (
    DESTINATION_CLASS_PERSONAL_CLOUD,
    DESTINATION_CLASS_PERSONAL_FOLDER,
    DESTINATION_CLASS_REMOVABLE_VOLUME,
)
from agent.egress.notices import BurstNotices, notice_text
from agent.lock.notify import desktop_argv, windows_toast_script
from agent.policy.merge import merge_policy
from agent.policy.session_file import MAX_NOTICES, NOTICES_FILE, handoff_dir, post_notice, read_notices
from agent.session_channel import SessionChannelClient
from agent.session_runtime import NOTICE_MAX_AGE_S, SessionRuntime

BASE: dict[str, Any] = {"state_dir": "s", "collector": {"address": "c:1", "ca": "ca", "cert": "c", "key": "k"}}


def _config(state_dir: Path | str = "s", **sections: dict[str, object]) -> AgentConfig:
    return parse_config({**BASE, "state_dir": str(state_dir), **sections}, base_dir=Path("/"))


def test_the_words_depend_on_where_the_file_went_and_can_be_switched_off() -> None:
    eg = EgressSettings()
    assert "memory sticks" in (notice_text(DESTINATION_CLASS_REMOVABLE_VOLUME, eg) or "")
    for where in (DESTINATION_CLASS_PERSONAL_FOLDER, DESTINATION_CLASS_PERSONAL_CLOUD):
        assert "personal cloud storage" in (notice_text(where, eg) or "")
    assert notice_text(DESTINATION_CLASS_REMOVABLE_VOLUME, _config(egress={"notify_user": False}).egress) is None
    own = _config(egress={"notice_removable": "Stop: sticks are not for case files."}).egress
    assert notice_text(DESTINATION_CLASS_REMOVABLE_VOLUME, own) == "Stop: sticks are not for case files."


def test_the_central_policy_sets_the_organisations_words_and_cannot_silence_a_laptop_that_tells() -> None:
    merged = merge_policy(_config(), {"egress": {"notice_personal": "Our words.", "notify_user": False}})
    assert merged.config.egress.notice_personal == "Our words."
    assert not merged.config.egress.notify_user
    local = _config(egress={"notify_user": True, "notice_personal": "Laptop words."})
    kept = merge_policy(local, {"egress": {"notice_personal": "Our words.", "notify_user": False}})
    assert kept.config.egress.notify_user and "egress.notify_user" in kept.tightened_locally
    assert kept.config.egress.notice_personal == "Our words."


def test_an_empty_or_overlong_notice_is_refused_with_one_line() -> None:
    for words in ("", "x" * 501):
        with pytest.raises(ValueError, match=r"notice_removable: expected a non-empty string of at most 500"):
            _config(egress={"notice_removable": words})


def test_one_notice_per_copy_burst_with_bounded_memory() -> None:
    bursts = BurstNotices(remembered=2)
    assert bursts.first("b1") and not bursts.first("b1") and not bursts.first("b1")
    assert bursts.first("b2") and bursts.first("b3")
    assert bursts.first("b1")  # forgotten after two newer bursts: a later copy is told again
    assert bursts.first("") and bursts.first("")


def test_notices_keep_the_latest_and_an_unreadable_file_is_not_taken_for_none(tmp_path: Path) -> None:
    for i in range(MAX_NOTICES + 5):
        assert post_notice(tmp_path, "t", f"n{i}", 1000.0 + i) == i + 1
    notices = read_notices(tmp_path)
    assert notices is not None and len(notices) == MAX_NOTICES and notices[-1]["text"] == f"n{MAX_NOTICES + 4}"
    (handoff_dir(tmp_path) / NOTICES_FILE).write_text(
        '{"notices": [{"id": "x"}, 3, {"id": 9, "at": 1, "title": "t", "text": "x"}]}')
    assert [n["id"] for n in read_notices(tmp_path) or []] == [9]
    (handoff_dir(tmp_path) / NOTICES_FILE).write_bytes(b"\xff\x00")
    assert read_notices(tmp_path) is None  # unreadable is not "none posted"
    assert post_notice(tmp_path, "t", "after", 2000.0) == 1 and len(read_notices(tmp_path) or []) == 1


def test_no_policy_wording_can_break_out_of_the_windows_or_macos_command() -> None:
    hostile = "It's ‘quoted’ \"twice\" $(Remove-Item C:\\) `n \\"
    argv = desktop_argv("win32", "Case file", hostile, 20)
    assert argv is not None and argv[0] == "powershell.exe" and argv[-2] == "-EncodedCommand"
    script = base64.b64decode(argv[-1]).decode("utf-16-le")
    assert script == windows_toast_script("Case file", hostile)
    text_line = next(line for line in script.splitlines() if "Item(1)" in line)
    assert "'It''s ‘‘quoted’’ \"twice\" $(Remove-Item C:\\) `n \\'" in text_line  # one literal string
    mac = desktop_argv("darwin", "Case file", hostile, 20)
    assert mac is not None and '\\"twice\\"' in mac[2] and mac[2].endswith('with title "Case file"')
    linux = desktop_argv("linux", "-t", "--help", 20)
    assert linux is not None and linux[-3:] == ("--", "-t", "--help")  # never read as options


class FakeNotifier:
    """Records what would be shown; fails while ``failing`` is set (as a missing daemon does)."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str]] = []
        self.failing = ""

    def show(self, title: str, text: str, timeout_s: float, *, what: str = "") -> bool:
        if self.failing:
            return False
        self.shown.append((title, text))
        return True

    def poll(self) -> str:
        return self.failing

    def close(self) -> None:
        pass


class RecordingSink(SessionChannelClient):
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, kind: str, body: Any) -> None:
        self.events.append((kind, dict(body)))


def test_the_session_shows_new_recent_notices_once_and_reports_when_it_cannot(tmp_path: Path) -> None:
    now = [10_000.0]
    post_notice(tmp_path, "old", "from before this session", now[0] - 5)
    notifier, sink = FakeNotifier(), RecordingSink()
    runtime = SessionRuntime(_config(tmp_path, lock={"enabled": False}), env={}, notifier=notifier,  # type: ignore[arg-type]
                             wall_clock=lambda: now[0], sink=sink)  # fmt: skip
    assert runtime.show_notices() == 0  # what was there at the start is not replayed
    post_notice(tmp_path, "Case file", "first", now[0])
    post_notice(tmp_path, "Case file", "second", now[0])
    assert runtime.show_notices() == 2 and [t for _, t in notifier.shown] == ["first", "second"]
    assert runtime.show_notices() == 0
    post_notice(tmp_path, "Case file", "stale", now[0] - NOTICE_MAX_AGE_S - 1)
    assert runtime.show_notices() == 0  # too old to be news

    notifier.failing = "exit-1"  # the notification daemon has gone
    post_notice(tmp_path, "Case file", "lost", now[0])
    runtime.show_notices()
    runtime.show_notices()
    notifier.failing = ""
    post_notice(tmp_path, "Case file", "back", now[0])
    runtime.show_notices()
    coverage = [b for k, b in sink.events if k == "coverage_degraded"]
    assert [(b["component"], b["reason"], b["recovered"]) for b in coverage] == [
        ("desktop_notification", "exit-1", False), ("desktop_notification", "exit-1", True)]
    assert notifier.shown[-1][1] == "back"
    notices_file = handoff_dir(tmp_path) / NOTICES_FILE
    posted = notices_file.read_bytes()
    notices_file.write_bytes(b"{half a rewrite")  # unreadable for a moment (a read racing a replace)
    assert runtime.show_notices() == 0
    notices_file.write_bytes(posted)
    assert runtime.show_notices() == 0  # readable again: nothing shown twice
    reset = {"notices": [{"id": 1, "at": now[0], "title": "t", "text": "new"}]}
    (handoff_dir(tmp_path) / NOTICES_FILE).write_text(json.dumps(reset))
    assert runtime.show_notices() == 1  # the agent's state was reset: numbering starts again


def test_a_notice_for_another_person_is_not_shown_in_this_session(tmp_path: Path) -> None:
    now = [10_000.0]
    notifier, sink = FakeNotifier(), RecordingSink()
    runtime = SessionRuntime(_config(tmp_path, lock={"enabled": False}), env={}, notifier=notifier,  # type: ignore[arg-type]
                             wall_clock=lambda: now[0], sink=sink)  # fmt: skip
    me = os.getuid()
    post_notice(tmp_path, "Case file", "mine", now[0], for_uid=me)
    post_notice(tmp_path, "Case file", "theirs", now[0], for_uid=me + 1)
    post_notice(tmp_path, "Case file", "everyone's", now[0])
    assert runtime.show_notices() == 2
    assert [t for _, t in notifier.shown] == ["mine", "everyone's"]
    assert [n.get("uid") for n in read_notices(tmp_path) or []] == [me, me + 1, None]


def test_the_notice_is_for_the_destinations_owner_unless_that_is_no_one(tmp_path: Path) -> None:
    from agent.egress.model import DESTINATION_CLASS_PERSONAL_FOLDER, Destination
    from agent.egress_pipeline import _owner

    def owner_of(uid: int | None) -> int | None:
        folder = tmp_path / f"folder-{uid}"
        if uid is not None:
            folder.mkdir()
            os.chown(folder, uid, uid)
        return _owner(Destination(folder, DESTINATION_CLASS_PERSONAL_FOLDER, "folder"))

    if os.geteuid() != 0:
        pytest.fail("needs root to give folders to other uids (CI runs as root)", pytrace=False)
    assert owner_of(4242) == 4242
    assert owner_of(0) is None  # root's: everyone
    assert owner_of(65534) is None and owner_of(99) is None  # nobody's (NFS unmapped, macOS unknown)
    assert owner_of(None) is None  # gone
