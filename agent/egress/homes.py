"""Whose personal folders to watch: the system agent runs as a service, so it looks in every
local person's home, not its own."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_NO_LOGIN = ("nologin", "false", "sync", "shutdown", "halt")
_WINDOWS_SKIP = {"public", "default", "default user", "all users", "defaultapppool"}


def user_homes(
    *,
    platform: str = sys.platform,
    passwd: Callable[[], Iterable[Any]] | None = None,
    users_dir: Path = Path("C:/Users"),
) -> list[Path]:
    """Home folders of people (not system accounts) on this machine that exist."""
    if platform == "win32":
        if not users_dir.is_dir():
            return []
        return sorted(p for p in users_dir.iterdir() if p.is_dir() and p.name.lower() not in _WINDOWS_SKIP)
    if passwd is None:
        if sys.platform == "win32":  # asked about a POSIX platform from Windows: no passwd database
            return []
        import pwd

        passwd = pwd.getpwall
    first_uid = 501 if platform == "darwin" else 1000
    homes: set[Path] = set()
    for entry in passwd():
        if entry.pw_uid < first_uid or entry.pw_uid >= 60000:  # 65534 is nobody
            continue
        if os.path.basename(entry.pw_shell) in _NO_LOGIN:
            continue
        home = Path(entry.pw_dir)
        if home.is_dir():
            homes.add(home)
    return sorted(homes)
