"""Idle time on Windows from GetLastInputInfo (user32), via ctypes.

Only imported on Windows. GetLastInputInfo is per session: the agent must run in the
user's interactive session (a session-0 service sees no input). Untested on this box.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from agent.lock.idle import IdleClockLost


class _LastInputInfo(ctypes.Structure):
    _fields_ = [("cbSize", ctypes.c_uint), ("dwTime", ctypes.c_uint)]


def idle_ms(tick_now: int, last_input_tick: int) -> int:
    """Milliseconds between two 32-bit tick counts, allowing for the 49.7-day wrap."""
    return (tick_now - last_input_tick) & 0xFFFFFFFF


class WindowsIdleSource:
    """``GetTickCount() - LASTINPUTINFO.dwTime`` in seconds."""

    name = "windows-lastinput"

    def __init__(self, user32: Any = None, kernel32: Any = None) -> None:
        """Bind user32/kernel32 (pass fakes in tests); raises ``IdleClockLost`` off Windows."""
        if user32 is None or kernel32 is None:
            if sys.platform != "win32":
                raise IdleClockLost("not-windows")
            user32 = user32 if user32 is not None else ctypes.windll.user32
            kernel32 = kernel32 if kernel32 is not None else ctypes.windll.kernel32
        self._user32 = user32
        self._kernel32 = kernel32

    def idle_seconds(self) -> float:
        """Seconds since the last input in this session."""
        info = _LastInputInfo()
        info.cbSize = ctypes.sizeof(_LastInputInfo)
        if not self._user32.GetLastInputInfo(ctypes.byref(info)):
            raise IdleClockLost("getlastinputinfo-failed")
        return idle_ms(int(self._kernel32.GetTickCount()), int(info.dwTime)) / 1000.0

    def close(self) -> None:
        """Nothing to release."""
