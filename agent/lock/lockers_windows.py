"""Windows locker (LockWorkStation) and check (LogonUI.exe running), via ctypes and psutil.

LockWorkStation works only from a process on the interactive desktop, so the agent's lock
component must run in the user's session. Untested on this box.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from agent.lock.lockers import LockChain, LockError, ProcessRunningCheck


class LockWorkStationLocker:
    """``user32.LockWorkStation()``: non-zero means the request was accepted."""

    method = "LockWorkStation"

    def __init__(self, user32: Any = None) -> None:
        """Bind user32 (pass a fake in tests)."""
        self._user32 = user32

    def lock(self) -> None:
        """Ask Windows to lock the workstation."""
        user32 = self._user32
        if user32 is None:
            if sys.platform != "win32":
                raise LockError("not windows")
            user32 = ctypes.windll.user32
        if not user32.LockWorkStation():
            raise LockError("LockWorkStation returned 0 (not on the interactive desktop?)")


def windows_lock_chain(user32: Any = None) -> LockChain:
    """LockWorkStation, verified by the lock screen process LogonUI.exe running."""
    return LockChain([LockWorkStationLocker(user32)], [ProcessRunningCheck(["LogonUI.exe"])])
