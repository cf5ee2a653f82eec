"""Windows lock settings from ``reg query`` output.

Windows locks an idle session by the machine inactivity limit (policy
``InactivityTimeoutSecs``, always with sign-in) or by a screen saver that is active, has a
timeout and is secure (``ScreenSaverIsSecure``). Group Policy values under
``HKCU\\Software\\Policies\\...\\Control Panel\\Desktop`` override the user's own.
Untested on this box except for the parser.
"""

from __future__ import annotations

import re

from agent.lock.posture import OsLockSettings
from agent.posture.commands import CommandRunner, run_command

INACTIVITY_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
DESKTOP_POLICY_KEY = r"HKCU\Software\Policies\Microsoft\Windows\Control Panel\Desktop"
DESKTOP_KEY = r"HKCU\Control Panel\Desktop"


_REG_VALUE = re.compile(r"^\s+(?P<name>\S(?:.*?\S)?)\s+(?P<kind>REG_[A-Z_]+)(?:\s+(?P<data>.*?))?\s*$")


def parse_reg_query(text: str) -> dict[str, str]:
    """``    Name    REG_TYPE    data`` lines into {name: data}; REG_DWORD hex becomes decimal.

    Names may contain spaces (``Pattern Upgrade``); key lines (not indented) are skipped.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _REG_VALUE.match(line)
        if not match:
            continue
        data = match.group("data") or ""
        if match.group("kind") in ("REG_DWORD", "REG_QWORD") and data.lower().startswith("0x"):
            data = str(int(data, 16))
        values[match.group("name")] = data
    return values


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def windows_settings(
    inactivity: dict[str, str], policy_desktop: dict[str, str], desktop: dict[str, str]
) -> OsLockSettings:
    """The effective lock timeout from the three keys' values (Group Policy over the user's).

    A screen saver runs only when ScreenSaveActive is 1, a timeout is set and a program
    (SCRNSAVE.EXE) is chosen; it locks only when ScreenSaverIsSecure is 1.
    """
    merged = {**desktop, **policy_desktop}
    limit = _int(inactivity.get("InactivityTimeoutSecs")) or 0
    saver_timeout = _int(merged.get("ScreenSaveTimeOut")) or 0
    saver_runs = merged.get("ScreenSaveActive") == "1" and saver_timeout > 0 and bool(merged.get("SCRNSAVE.EXE"))
    saver_locks = saver_runs and merged.get("ScreenSaverIsSecure") == "1"
    locking = [t for t in (limit, saver_timeout if saver_locks else 0) if t > 0]
    if locking:
        source = "windows-policy" if limit and limit == min(locking) else "windows-screensaver"
        return OsLockSettings(source, min(locking), True)
    if saver_runs:
        return OsLockSettings("windows-screensaver", 0, False, "the screen saver does not require sign-in")
    return OsLockSettings("windows-policy", 0, None, "no inactivity limit and no secure screen saver")


class WindowsLockSettingsReader:
    """Runs ``reg query`` on the three keys."""

    def __init__(self, runner: CommandRunner = run_command) -> None:
        """Keep the runner."""
        self._runner = runner

    def _query(self, key: str) -> dict[str, str]:
        result = self._runner(("reg", "query", key), 5.0)
        return parse_reg_query(result.stdout) if result.ok else {}

    def __call__(self) -> OsLockSettings:
        """Read the current settings."""
        desktop = self._query(DESKTOP_KEY)
        if not desktop:
            return OsLockSettings("windows-policy", None, None)
        return windows_settings(self._query(INACTIVITY_KEY), self._query(DESKTOP_POLICY_KEY), desktop)
