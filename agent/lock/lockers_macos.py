"""macOS lockers and check.

``pmset displaysleepnow`` locks only when "require password immediately" is on (see lock
posture); ``CGSession -suspend`` switches to the login window on releases that still ship
it. The check reads ``CGSSessionScreenIsLocked`` from the console users ``ioreg`` lists.
Untested on this box except for the parser.
"""

from __future__ import annotations

import re

from agent.lock.lockers import LockChain, RunLocker
from agent.posture.commands import CommandRunner

CGSESSION = "/System/Library/CoreServices/Menu Extras/User.menu/Contents/Resources/CGSession"
_SCREEN_LOCKED = re.compile(r'"CGSSessionScreenIsLocked"\s*=\s*(Yes|No)')
_CONSOLE_USERS = re.compile(r'"IOConsoleUsers"')


def parse_screen_locked(ioreg_root: str) -> bool | None:
    """From ``ioreg -n Root -d1``: True if a console session reports its screen locked."""
    if not _CONSOLE_USERS.search(ioreg_root):
        return None
    return any(value == "Yes" for value in _SCREEN_LOCKED.findall(ioreg_root))


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


def macos_lock_chain(runner: CommandRunner) -> LockChain:
    """pmset display sleep first, then CGSession -suspend; verified through ioreg."""
    return LockChain(
        [
            RunLocker("pmset-displaysleepnow", ("pmset", "displaysleepnow"), runner),
            RunLocker("cgsession-suspend", (CGSESSION, "-suspend"), runner),
        ],
        [MacScreenLockedCheck(runner)],
    )
