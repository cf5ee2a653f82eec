"""Windows lock settings from every source a managed laptop uses, read case-insensitively.

Windows locks an idle session through any of:

* the machine inactivity limit (policy ``InactivityTimeoutSecs``, always with sign-in);
* a screen saver that is active, has a timeout and is secure (``ScreenSaverIsSecure``); Group
  Policy values under ``HKCU\\Software\\Policies\\...\\Control Panel\\Desktop`` override the user's;
* the power plan: sleep after N seconds (``STANDBYIDLE``) with sign-in on wake (``CONSOLELOCK``),
  from ``powercfg /q`` for the active scheme (on battery and on mains: the weaker counts);
* MDM (Intune) DeviceLock ``MaxInactivityTimeDeviceLock`` (minutes) under ``PolicyManager``.

The earliest of those that locks is the OS's lock timeout. Registry value names are matched
case-insensitively, as Windows does (real machines have ``ScreenSaveTimeOut`` and
``ScreenSaveTimeout``). ``powercfg`` output is localised, so it is read by GUIDs and ``0x``
values only. Untested on a real Windows machine: the parsers are fed captured outputs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from agent.lock.posture import OsLockSettings
from agent.posture.commands import CommandRunner, run_command

INACTIVITY_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
DESKTOP_POLICY_KEY = r"HKCU\Software\Policies\Microsoft\Windows\Control Panel\Desktop"
DESKTOP_KEY = r"HKCU\Control Panel\Desktop"
MDM_DEVICE_LOCK_KEY = r"HKLM\SOFTWARE\Microsoft\PolicyManager\current\device\DeviceLock"

SUB_SLEEP = "238c9fa8-0aad-41ed-83f4-97be242c8f20"
STANDBYIDLE = "29f6c1db-86da-48c5-9fdb-f2b67b1f44da"  # Sleep after (seconds; 0 = never)
SUB_NONE = "fea3413e-7e05-4911-9a71-700331f1c294"
CONSOLELOCK = "0e796bdb-100d-47d6-a2d5-f7d2daa51f51"  # Require a password on wakeup (0/1)
POWERCFG_SLEEP = ("powercfg", "/q", "SCHEME_CURRENT", SUB_SLEEP, STANDBYIDLE)
POWERCFG_CONSOLELOCK = ("powercfg", "/q", "SCHEME_CURRENT", SUB_NONE, CONSOLELOCK)

_REG_VALUE = re.compile(r"^\s+(?P<name>\S(?:.*?\S)?)\s+(?P<kind>REG_[A-Z_]+)(?:\s+(?P<data>.*?))?\s*$")
_GUID = re.compile(r"\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b", re.IGNORECASE)
_HEX_VALUE = re.compile(r":\s*0x([0-9a-f]+)\s*$", re.IGNORECASE)


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


@dataclass(frozen=True)
class PowerIndex:
    """One power setting's current index on mains (AC) and battery (DC); DC is None on desktops."""

    ac: int
    dc: int | None


def parse_powercfg(text: str) -> dict[str, PowerIndex]:
    """Setting GUID -> its current AC/DC index, from ``powercfg /q`` output in any language.

    Each setting block starts with a line naming its GUID; its current AC and DC indexes are the
    block's last two ``: 0x...`` values (range settings list minimum, maximum and increment first;
    enumerated ones list ``Possible Setting Index: 000`` lines, which have no ``0x``).
    """
    found: dict[str, PowerIndex] = {}
    guid: str | None = None
    values: list[int] = []

    def close() -> None:
        if guid is None or not values:
            return
        current = values[-2:] if len(values) in (2, 5) else values[-1:]
        found[guid] = PowerIndex(current[0], current[1] if len(current) == 2 else None)

    for line in text.splitlines():
        hex_value = _HEX_VALUE.search(line)
        if hex_value:
            values.append(int(hex_value.group(1), 16))
            continue
        guid_match = _GUID.search(line)
        if guid_match:
            close()
            guid, values = guid_match.group(1).lower(), []
    close()
    return found


def _lower(values: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): data for name, data in values.items()}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def power_settings(sleep: PowerIndex | None, console_lock: PowerIndex | None) -> OsLockSettings | None:
    """What the power plan contributes: a lock after sleep, if sleeping asks for sign-in on wake.

    On battery and on mains alike: the weaker of the two counts (never, if either never sleeps).
    """
    if sleep is None:
        return None
    timeouts = [t for t in (sleep.ac, sleep.dc) if t is not None]
    timeout = 0 if 0 in timeouts else max(timeouts)
    if console_lock is None:
        password: bool | None = None
    else:
        password = all(v == 1 for v in (console_lock.ac, console_lock.dc) if v is not None)
    if timeout and password is False:
        return OsLockSettings(
            "windows-power", 0, False, "sleep does not ask for sign-in on wake",
            ("The power plan wakes from sleep without asking for sign-in.",),
        )
    return OsLockSettings("windows-power", timeout, password)


def windows_settings(
    inactivity: Mapping[str, str],
    policy_desktop: Mapping[str, str],
    desktop: Mapping[str, str],
    power: OsLockSettings | None = None,
    mdm: Mapping[str, str] | None = None,
) -> OsLockSettings:
    """The effective lock timeout from every source (the earliest one that locks).

    A screen saver runs only when ScreenSaveActive is 1, a timeout is set and a program
    (SCRNSAVE.EXE) is chosen; it locks only when ScreenSaverIsSecure is 1.
    """
    merged = {**_lower(desktop), **_lower(policy_desktop)}
    limit = _int(_lower(inactivity).get("inactivitytimeoutsecs")) or 0
    mdm_minutes = _int(_lower(mdm or {}).get("maxinactivitytimedevicelock")) or 0
    saver_timeout = _int(merged.get("screensavetimeout")) or 0
    saver_runs = merged.get("screensaveactive") == "1" and saver_timeout > 0 and bool(merged.get("scrnsave.exe"))
    saver_locks = saver_runs and merged.get("screensaverissecure") == "1"
    candidates = [
        ("windows-policy", limit),
        ("windows-mdm", mdm_minutes * 60),
        ("windows-screensaver", saver_timeout if saver_locks else 0),
        ("windows-power", (power.timeout_s or 0) if power is not None and power.password_on_wake else 0),
    ]
    locking = [(t, source) for source, t in candidates if t > 0]
    weaknesses = power.weaknesses if power is not None else ()
    if locking:
        timeout, source = min(locking)
        return OsLockSettings(source, timeout, True, weaknesses=weaknesses)
    if saver_runs:
        return OsLockSettings(
            "windows-screensaver", 0, False, "the screen saver does not require sign-in", weaknesses
        )
    if power is not None and power.password_on_wake is False and power.weaknesses:
        return power
    return OsLockSettings(
        "windows-policy", 0, None, "no inactivity limit, MDM lock, secure screen saver or locking sleep", weaknesses
    )


class WindowsLockSettingsReader:
    """Runs ``reg query`` on the policy, desktop and MDM keys and ``powercfg /q`` for the power plan."""

    def __init__(self, runner: CommandRunner = run_command) -> None:
        """Keep the runner."""
        self._runner = runner

    def _query(self, key: str) -> dict[str, str]:
        result = self._runner(("reg", "query", key), 5.0)
        return parse_reg_query(result.stdout) if result.ok else {}

    def _power(self) -> OsLockSettings | None:
        sleep = self._runner(POWERCFG_SLEEP, 10.0)
        if not sleep.ok:
            return None
        lock = self._runner(POWERCFG_CONSOLELOCK, 10.0)
        console_lock = parse_powercfg(lock.stdout).get(CONSOLELOCK) if lock.ok else None
        return power_settings(parse_powercfg(sleep.stdout).get(STANDBYIDLE), console_lock)

    def __call__(self) -> OsLockSettings:
        """Read the current settings."""
        desktop = self._query(DESKTOP_KEY)
        power = self._power()
        if not desktop and power is None:
            return OsLockSettings("windows-policy", None, None)
        inactivity, policy = self._query(INACTIVITY_KEY), self._query(DESKTOP_POLICY_KEY)
        return windows_settings(inactivity, policy, desktop, power, self._query(MDM_DEVICE_LOCK_KEY))
