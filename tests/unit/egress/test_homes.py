"""The system agent looks in every person's home, never a service account's."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from agent.egress.homes import user_homes


def _pw(uid: int, home: Path, shell: str = "/bin/bash") -> SimpleNamespace:
    return SimpleNamespace(pw_uid=uid, pw_dir=str(home), pw_shell=shell)


def test_people_not_services(tmp_path: Path) -> None:
    alice, bob, svc, gone = (tmp_path / n for n in ("alice", "bob", "svc", "gone"))
    for d in (alice, bob, svc):
        d.mkdir()
    entries = [_pw(0, tmp_path), _pw(1000, alice), _pw(1001, bob, "/usr/bin/zsh"),
               _pw(1002, svc, "/usr/sbin/nologin"), _pw(1003, gone), _pw(65534, tmp_path)]
    assert user_homes(platform="linux", passwd=lambda: entries) == [alice, bob]


def test_macos_people_start_at_501(tmp_path: Path) -> None:
    (tmp_path / "ann").mkdir()
    assert user_homes(platform="darwin", passwd=lambda: [_pw(501, tmp_path / "ann")]) == [tmp_path / "ann"]


def test_windows_users_folder(tmp_path: Path) -> None:
    for name in ("Public", "Default", "j.smith"):
        (tmp_path / name).mkdir()
    assert user_homes(platform="win32", users_dir=tmp_path) == [tmp_path / "j.smith"]
