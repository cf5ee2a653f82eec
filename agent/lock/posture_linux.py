"""Linux lock settings: GNOME (gsettings) and KDE (kscreenlockerrc).

GNOME blanks the screen after ``org.gnome.desktop.session idle-delay`` seconds (0: never)
and, if ``org.gnome.desktop.screensaver lock-enabled``, locks ``lock-delay`` seconds later;
``org.gnome.desktop.lockdown disable-lock-screen`` turns locking off altogether. KDE keeps
``[Daemon] Autolock`` (default true), ``Timeout`` (minutes, default 5), ``LockGrace``
(seconds, default 5) and ``LockOnResume`` (default true) in ``~/.config/kscreenlockerrc``.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Callable

from agent.lock.posture import OsLockSettings
from agent.posture.commands import CommandRunner, run_command

GNOME_KEYS = (
    ("org.gnome.desktop.session", "idle-delay"),
    ("org.gnome.desktop.screensaver", "lock-enabled"),
    ("org.gnome.desktop.screensaver", "lock-delay"),
    ("org.gnome.desktop.lockdown", "disable-lock-screen"),
)
_GVARIANT_INT = re.compile(r"^(?:u?int(?:16|32|64)\s+)?(-?\d+)$")


def parse_gsettings_value(text: str) -> int | bool | None:
    """``uint32 300`` -> 300, ``true`` -> True; None for anything else."""
    value = text.strip()
    if value in ("true", "false"):
        return value == "true"
    match = _GVARIANT_INT.match(value)
    return int(match.group(1)) if match else None


def gnome_settings(
    idle_delay: int | None,
    lock_enabled: bool | None,
    lock_delay: int | None,
    lock_disabled: bool | None = False,
) -> OsLockSettings:
    """GNOME's effective lock timeout and password-on-wake from its four keys."""
    if lock_disabled:
        return OsLockSettings("gnome", 0, False, "GNOME lockdown disable-lock-screen is true")
    if lock_enabled is False:
        return OsLockSettings("gnome", 0, False, "GNOME screensaver lock-enabled is false")
    if idle_delay == 0:
        return OsLockSettings("gnome", 0, lock_enabled, "GNOME session idle-delay is 0")
    if idle_delay is None or lock_enabled is None:
        return OsLockSettings("gnome", None, lock_enabled)
    return OsLockSettings("gnome", idle_delay + (lock_delay or 0), True)


class GnomeLockSettingsReader:
    """Reads the GNOME keys with ``gsettings get`` (the user's dconf, or GSETTINGS_BACKEND)."""

    def __init__(self, runner: CommandRunner = run_command) -> None:
        """Keep the runner."""
        self._runner = runner

    def __call__(self) -> OsLockSettings:
        """Read the current settings."""
        values: list[int | bool | None] = []
        for schema, key in GNOME_KEYS:
            result = self._runner(("gsettings", "get", schema, key), 5.0)
            values.append(parse_gsettings_value(result.stdout) if result.ok else None)
        idle, enabled, delay, disabled = values
        return gnome_settings(
            idle if isinstance(idle, int) and not isinstance(idle, bool) else None,
            enabled if isinstance(enabled, bool) else None,
            delay if isinstance(delay, int) and not isinstance(delay, bool) else None,
            disabled if isinstance(disabled, bool) else False,
        )


def _kde_bool(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() in ("true", "1", "yes", "on")


def _kde_int(value: str | None, default: int) -> int:
    try:
        return int(value.strip()) if value is not None else default
    except ValueError:
        return default


def kde_settings(text: str) -> OsLockSettings:
    """KDE's lock settings from kscreenlockerrc text (missing keys take KDE's defaults)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # KDE keys are case-sensitive
    parser.read_string(text)
    daemon = parser["Daemon"] if parser.has_section("Daemon") else {}
    autolock = _kde_bool(daemon.get("Autolock"), True)
    minutes = _kde_int(daemon.get("Timeout"), 5)
    grace = _kde_int(daemon.get("LockGrace"), 5)
    on_resume = _kde_bool(daemon.get("LockOnResume"), True)
    weaknesses = () if on_resume else ("The screen is not locked when the computer wakes from sleep.",)
    if not autolock:
        return OsLockSettings("kde", 0, on_resume, "KDE Autolock is off", weaknesses)
    if minutes <= 0:
        return OsLockSettings("kde", 0, on_resume, "KDE lock Timeout is 0", weaknesses)
    return OsLockSettings("kde", minutes * 60 + max(0, grace), True, "", weaknesses)


class KdeLockSettingsReader:
    """Reads ``~/.config/kscreenlockerrc`` (absent: KDE's defaults)."""

    def __init__(self, home: str, read_text: Callable[[str], str | None] | None = None) -> None:
        """``home`` is the user's home directory; ``read_text`` returns None for a missing file."""
        self._path = os.path.join(home, ".config", "kscreenlockerrc")
        self._read_text = read_text or _read_text

    def __call__(self) -> OsLockSettings:
        """Read the current settings."""
        try:
            text = self._read_text(self._path)
        except OSError:
            return OsLockSettings("kde", None, None)
        try:
            return kde_settings(text or "")
        except configparser.Error:
            return OsLockSettings("kde", None, None)


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def unknown_desktop(desktop: str) -> Callable[[], OsLockSettings]:
    """A reader for desktops whose lock settings are not read (reports unknown)."""

    def read() -> OsLockSettings:
        return OsLockSettings(f"linux-{desktop}", None, None)

    return read
