"""macOS lock settings: ``sysadminctl -screenLock status`` (it prints to stderr),
``defaults -currentHost read com.apple.screensaver idleTime`` and ``pmset -g`` displaysleep.

The screen locks when the screen saver starts or the display sleeps, whichever is first,
plus the screenLock delay; ``screenLock is off`` means no password on wake.
Untested on this box except for the parsers.
"""

from __future__ import annotations

import re

from agent.lock.posture import OsLockSettings
from agent.posture.commands import CommandRunner, run_command

_DELAY = re.compile(r"screenLock delay is (immediate|(\d+) seconds?)")
_OFF = re.compile(r"screenLock is off")
_DISPLAYSLEEP = re.compile(r"^\s*displaysleep\s+(\d+)", re.MULTILINE)


def parse_screen_lock(text: str) -> int | None:
    """Seconds of delay before a password is needed; -1 for off; None if not understood."""
    if _OFF.search(text):
        return -1
    match = _DELAY.search(text)
    if not match:
        return None
    return 0 if match.group(1) == "immediate" else int(match.group(2))


def parse_displaysleep_minutes(text: str) -> int | None:
    """``displaysleep N`` from ``pmset -g`` (minutes, 0 = never)."""
    match = _DISPLAYSLEEP.search(text)
    return int(match.group(1)) if match else None


def macos_settings(delay_s: int | None, saver_idle_s: int | None, displaysleep_min: int | None) -> OsLockSettings:
    """The effective lock timeout from the three readings."""
    if delay_s is None:
        return OsLockSettings("macos", None, None)
    if delay_s < 0:
        return OsLockSettings("macos", 0, False, "screenLock is off")
    starts = [s for s in (saver_idle_s, displaysleep_min * 60 if displaysleep_min is not None else None) if s]
    if not starts:
        if saver_idle_s is None and displaysleep_min is None:
            return OsLockSettings("macos", None, True)
        return OsLockSettings("macos", 0, True, "neither the screen saver nor display sleep ever starts")
    return OsLockSettings("macos", min(starts) + delay_s, True)


class MacLockSettingsReader:
    """Runs the three commands as the logged-in user."""

    def __init__(self, runner: CommandRunner = run_command) -> None:
        """Keep the runner."""
        self._runner = runner

    def __call__(self) -> OsLockSettings:
        """Read the current settings."""
        lock = self._runner(("sysadminctl", "-screenLock", "status"), 10.0)
        saver = self._runner(("defaults", "-currentHost", "read", "com.apple.screensaver", "idleTime"), 5.0)
        power = self._runner(("pmset", "-g"), 5.0)
        saver_idle = int(saver.stdout.strip()) if saver.ok and saver.stdout.strip().isdigit() else None
        return macos_settings(
            parse_screen_lock(lock.stderr + lock.stdout),
            saver_idle,
            parse_displaysleep_minutes(power.stdout) if power.ok else None,
        )
