"""macOS lockers and check.

First ``SACLockScreenImmediate`` from the private login.framework (what the menu-bar "Lock
Screen" item and Ctrl-Cmd-Q call; present on macOS 10.13 through 15), loaded with ctypes in the
user's session. Then ``pmset displaysleepnow``, which locks only when "require password
immediately" is on (see lock posture). Last ``CGSession -suspend``, which switches to the login
window on the old releases that still ship it (it is gone from current macOS). Every lock is
verified: the check reads ``CGSSessionScreenIsLocked`` from the console users ``ioreg`` lists.
Untested on a real Mac: the framework call is exercised with a stand-in loader, the parser with
captured ``ioreg`` output.
"""

from __future__ import annotations

import ctypes
import logging
import re
from collections.abc import Callable
from typing import Any

from agent.lock.lockers import LockChain, LockError, RunLocker
from agent.posture.commands import CommandRunner

log = logging.getLogger(__name__)

LOGIN_FRAMEWORK = "/System/Library/PrivateFrameworks/login.framework/Versions/Current/login"

CGSESSION = "/System/Library/CoreServices/Menu Extras/User.menu/Contents/Resources/CGSession"
_SCREEN_LOCKED = re.compile(r'"CGSSessionScreenIsLocked"\s*=\s*(Yes|No)')
_CONSOLE_USERS = re.compile(r'"IOConsoleUsers"')


def parse_screen_locked(ioreg_root: str) -> bool | None:
    """From ``ioreg -n Root -d1``: True if a console session reports its screen locked."""
    if not _CONSOLE_USERS.search(ioreg_root):
        return None
    return any(value == "Yes" for value in _SCREEN_LOCKED.findall(ioreg_root))


class LoginFrameworkLocker:
    """``SACLockScreenImmediate()`` from login.framework; the chain's check confirms the lock."""

    method = "login-framework"

    def __init__(self, load: Callable[[str], Any] | None = None) -> None:
        """``load`` opens a shared library (default ``ctypes.CDLL``; tests pass a stand-in)."""
        self._load = load if load is not None else ctypes.CDLL

    def lock(self) -> None:
        """Ask the login window to lock the screen now."""
        try:
            library = self._load(LOGIN_FRAMEWORK)
        except OSError as exc:
            raise LockError(f"login.framework cannot be loaded: {exc}") from exc
        function = getattr(library, "SACLockScreenImmediate", None)
        if function is None:
            raise LockError("login.framework has no SACLockScreenImmediate")
        function.restype = ctypes.c_int
        function.argtypes = []
        result = function()
        if result:
            log.info("SACLockScreenImmediate returned %s; the lock check decides", result)


class MacScreenLockedCheck:
    """``CGSSessionScreenIsLocked`` via ``ioreg -n Root -d1``."""

    name = "macos-cgsession"

    def __init__(self, runner: CommandRunner) -> None:
        """Keep the runner."""
        self._runner = runner

    def is_locked(self) -> bool | None:
        """Whether the console session's screen is locked; None if ioreg fails."""
        result = self._runner(("ioreg", "-n", "Root", "-d1"), 3.0)
        return parse_screen_locked(result.stdout) if result.ok else None


def macos_lock_chain(runner: CommandRunner, load: Callable[[str], Any] | None = None) -> LockChain:
    """login.framework first, then pmset display sleep, then CGSession -suspend; verified through ioreg."""
    return LockChain(
        [
            LoginFrameworkLocker(load),
            RunLocker("pmset-displaysleepnow", ("pmset", "displaysleepnow"), runner),
            RunLocker("cgsession-suspend", (CGSESSION, "-suspend"), runner),
        ],
        [MacScreenLockedCheck(runner)],
    )
