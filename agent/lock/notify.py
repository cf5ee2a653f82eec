"""The best-effort "your screen will lock" warning.

The notification command is started and not waited for: a notification daemon that is
slow or absent must never delay the lock. Children are reaped on the next call and
killed by ``close``. Failures are logged once per kind of failure, never raised.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Sequence

from agent.lock.lockers import ChildProcess, spawn_detached

log = logging.getLogger(__name__)

TITLE = "Screen will lock"


def message(seconds_left: float) -> str:
    """The warning text (no personal data)."""
    seconds = max(1, round(seconds_left))
    return f"This computer will lock in {seconds} seconds unless it is used. Move the mouse to keep working."


def notify_argv(platform: str, seconds_left: float) -> tuple[str, ...] | None:
    """The command that shows the warning on ``platform``, or None where there is none."""
    text = message(seconds_left)
    if platform.startswith("linux"):
        timeout_ms = str(int(max(1.0, seconds_left) * 1000))
        return ("notify-send", "--urgency=critical", "--app-name=Caseguard", f"--expire-time={timeout_ms}", TITLE, text)
    if platform == "darwin":
        script = f'display notification "{text}" with title "{TITLE}"'
        return ("osascript", "-e", script)
    return None


class Notifier:
    """Shows the warning with a desktop notification command; never blocks, never raises."""

    def __init__(
        self,
        platform: str = sys.platform,
        spawn: Callable[[Sequence[str]], ChildProcess] = spawn_detached,
    ) -> None:
        """``platform`` picks the command (``notify-send``, ``osascript``); ``spawn`` starts it."""
        self._platform = platform
        self._spawn = spawn
        self._pending: list[ChildProcess] = []
        self._warned: set[str] = set()

    def notify(self, seconds_left: float) -> None:
        """Start the notification command for ``seconds_left`` before the lock."""
        self._reap()
        argv = notify_argv(self._platform, seconds_left)
        if argv is None:
            self._warn_once("unsupported", "no desktop notification on %s", self._platform)
            return
        try:
            self._pending.append(self._spawn(argv))
        except OSError as exc:
            self._warn_once("spawn", "lock warning not shown: %s: %s", argv[0], exc.strerror)

    def _reap(self) -> None:
        still: list[ChildProcess] = []
        for child in self._pending:
            code = child.poll()
            if code is None:
                still.append(child)
            elif code != 0:
                self._warn_once("exit", "lock warning command exited %s (no notification daemon?)", code)
        self._pending = still

    def _warn_once(self, key: str, msg: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(msg, *args)
        else:
            log.debug(msg, *args)

    def close(self) -> None:
        """Reap finished notification commands and kill any still running."""
        self._reap()
        for child in self._pending:
            child.kill()
            try:
                child.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                log.debug("notification command %s did not exit", child.pid)
        self._pending = []
