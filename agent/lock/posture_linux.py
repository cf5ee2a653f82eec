"""Linux lock settings: GNOME-style gsettings (GNOME, Cinnamon, MATE), KDE and XFCE.

GNOME blanks the screen after ``org.gnome.desktop.session idle-delay`` seconds (0: never)
and, if ``org.gnome.desktop.screensaver lock-enabled``, locks ``lock-delay`` seconds later;
``org.gnome.desktop.lockdown disable-lock-screen`` turns locking off altogether. Cinnamon has
the same keys under ``org.cinnamon.desktop.*``; MATE under ``org.mate.session`` /
``org.mate.screensaver`` / ``org.mate.lockdown``, in minutes. KDE keeps ``[Daemon] Autolock``
(default true), ``Timeout`` (minutes, default 5), ``LockGrace`` (seconds, default 5) and
``LockOnResume`` (default true) in kscreenlockerrc: the system-wide ``/etc/xdg/kscreenlockerrc``
first, the user's ``~/.config/kscreenlockerrc`` over it, except keys the system file marks
immutable (``Key[$i]=`` or a ``[Group][$i]`` header, KDE's kiosk mode). XFCE's
xfce4-screensaver keeps ``/saver/enabled``, ``/saver/idle-activation/delay`` (minutes),
``/lock/enabled`` and ``/lock/saver-activation/delay`` (minutes) in xfconf.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from agent.lock.posture import OsLockSettings
from agent.posture.commands import NOT_FOUND, CommandRunner, run_command


@dataclass(frozen=True)
class GSettingsDesktop:
    """Where one GNOME-style desktop keeps its four lock keys, and in which unit its delays are."""

    source: str
    session: str
    screensaver: str
    lockdown: str
    unit_s: int = 1
    name: str = ""

    @property
    def keys(self) -> tuple[tuple[str, str], ...]:
        """``(schema, key)`` for idle-delay, lock-enabled, lock-delay, disable-lock-screen."""
        return (
            (self.session, "idle-delay"),
            (self.screensaver, "lock-enabled"),
            (self.screensaver, "lock-delay"),
            (self.lockdown, "disable-lock-screen"),
        )


GNOME = GSettingsDesktop(
    "gnome", "org.gnome.desktop.session", "org.gnome.desktop.screensaver", "org.gnome.desktop.lockdown", name="GNOME"
)
CINNAMON = GSettingsDesktop(
    "cinnamon",
    "org.cinnamon.desktop.session",
    "org.cinnamon.desktop.screensaver",
    "org.cinnamon.desktop.lockdown",
    name="Cinnamon",
)
MATE = GSettingsDesktop("mate", "org.mate.session", "org.mate.screensaver", "org.mate.lockdown", unit_s=60, name="MATE")
GNOME_KEYS = GNOME.keys
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
    desktop: GSettingsDesktop = GNOME,
) -> OsLockSettings:
    """A GNOME-style desktop's effective lock timeout and password-on-wake from its four keys."""
    name, src = desktop.name or desktop.source, desktop.source
    if lock_disabled:
        return OsLockSettings(src, 0, False, f"{name} lockdown disable-lock-screen is true")
    if lock_enabled is False:
        return OsLockSettings(src, 0, False, f"{name} screensaver lock-enabled is false")
    if idle_delay == 0:
        return OsLockSettings(src, 0, lock_enabled, f"{name} session idle-delay is 0")
    if idle_delay is None or lock_enabled is None:
        return OsLockSettings(src, None, lock_enabled)
    return OsLockSettings(src, (idle_delay + (lock_delay or 0)) * desktop.unit_s, True)


def _int_value(value: int | bool | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class GnomeLockSettingsReader:
    """Reads a GNOME-style desktop's keys with ``gsettings get`` (the user's dconf, or GSETTINGS_BACKEND)."""

    def __init__(self, runner: CommandRunner = run_command, desktop: GSettingsDesktop = GNOME) -> None:
        """Keep the runner; ``desktop`` says whose schemas to read (GNOME, Cinnamon, MATE)."""
        self._runner = runner
        self._desktop = desktop

    def __call__(self) -> OsLockSettings:
        """Read the current settings."""
        values: list[int | bool | None] = []
        for schema, key in self._desktop.keys:
            result = self._runner(("gsettings", "get", schema, key), 5.0)
            values.append(parse_gsettings_value(result.stdout) if result.ok else None)
        idle, enabled, delay, disabled = values
        return gnome_settings(
            _int_value(idle),
            enabled if isinstance(enabled, bool) else None,
            _int_value(delay),
            disabled if isinstance(disabled, bool) else False,
            self._desktop,
        )


XFCE_PROPERTIES = ("/saver/enabled", "/saver/idle-activation/delay", "/lock/enabled", "/lock/saver-activation/delay")
XFCE_DEFAULTS: dict[str, int | bool] = {
    "/saver/enabled": True,
    "/saver/idle-activation/delay": 5,
    "/lock/enabled": True,
    "/lock/saver-activation/delay": 0,
}


def xfce_settings(values: dict[str, int | bool | None]) -> OsLockSettings:
    """xfce4-screensaver's lock timeout; properties never set take its defaults."""
    merged = {k: (XFCE_DEFAULTS[k] if values.get(k) is None else values[k]) for k in XFCE_PROPERTIES}
    if merged["/saver/enabled"] is False:
        return OsLockSettings("xfce", 0, merged["/lock/enabled"] is True, "XFCE screensaver is disabled")
    if merged["/lock/enabled"] is False:
        return OsLockSettings("xfce", 0, False, "XFCE screensaver lock is disabled")
    idle = _int_value(merged["/saver/idle-activation/delay"])
    delay = _int_value(merged["/lock/saver-activation/delay"]) or 0
    if not idle:
        return OsLockSettings("xfce", 0, True, "XFCE screensaver idle delay is 0")
    return OsLockSettings("xfce", (idle + delay) * 60, True)


class XfceLockSettingsReader:
    """Reads xfce4-screensaver's properties with ``xfconf-query`` (unknown if xfconf is absent)."""

    def __init__(self, runner: CommandRunner = run_command) -> None:
        """Keep the runner."""
        self._runner = runner

    def __call__(self) -> OsLockSettings:
        """Read the current settings."""
        values: dict[str, int | bool | None] = {}
        for prop in XFCE_PROPERTIES:
            result = self._runner(("xfconf-query", "-c", "xfce4-screensaver", "-p", prop), 5.0)
            if result.returncode == NOT_FOUND:
                return OsLockSettings("xfce", None, None)
            values[prop] = parse_gsettings_value(result.stdout) if result.ok else None  # unset: default
        return xfce_settings(values)


def _kde_bool(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() in ("true", "1", "yes", "on")


def _kde_int(value: str | None, default: int) -> int:
    try:
        return int(value.strip()) if value is not None else default
    except ValueError:
        return default


_IMMUTABLE = "[$i]"


def _kde_layer(text: str) -> tuple[dict[str, str], set[str], bool]:
    """``[Daemon]`` keys of one kscreenlockerrc, the keys marked immutable, and whether the group is."""
    values: dict[str, str] = {}
    immutable: set[str] = set()
    group_immutable = False
    group: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            group_immutable_here = line.endswith(_IMMUTABLE) and line.count("[") > 1
            group = line[1 : line.index("]")]
            if group == "Daemon" and group_immutable_here:
                group_immutable = True
            continue
        if group != "Daemon" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key.endswith(_IMMUTABLE):
            key = key[: -len(_IMMUTABLE)]
            immutable.add(key)
        values[key] = value.strip()
    return values, immutable, group_immutable


def kde_settings(text: str, system_text: str = "") -> OsLockSettings:
    """KDE's lock settings: the system-wide file, the user's over it unless kiosk-locked; then defaults."""
    system, locked, all_locked = _kde_layer(system_text)
    user, _, _ = _kde_layer(text)
    daemon = dict(system)
    if not all_locked:
        daemon.update({k: v for k, v in user.items() if k not in locked})
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
    """Reads ``/etc/xdg/kscreenlockerrc`` then ``~/.config/kscreenlockerrc`` (absent: KDE's defaults)."""

    def __init__(
        self,
        home: str,
        read_text: Callable[[str], str | None] | None = None,
        system_path: str = "/etc/xdg/kscreenlockerrc",
    ) -> None:
        """``home`` is the user's home directory; ``read_text`` returns None for a missing file."""
        self._path = os.path.join(home, ".config", "kscreenlockerrc")
        self._system_path = system_path
        self._read_text = read_text or _read_text

    def __call__(self) -> OsLockSettings:
        """Read the current settings."""
        try:
            system = self._read_text(self._system_path)
            text = self._read_text(self._path)
        except OSError:
            return OsLockSettings("kde", None, None)
        return kde_settings(text or "", system or "")


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
