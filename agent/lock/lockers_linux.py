"""Linux lockers and lock checks.

Order: the configured ``[lock] command``; ``loginctl lock-session`` (works only if a locker
listens to logind); the D-Bus screensavers org.freedesktop.ScreenSaver and
org.gnome.ScreenSaver via ``gdbus``; ``xdg-screensaver lock``. Checks: the command's
process running, logind's LockedHint, and the screensavers' GetActive.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.lock.idle_logind import parse_show_session
from agent.lock.lockers import CommandLocker, LockChain, LockCheck, Locker, RunLocker
from agent.posture.commands import CommandRunner

# (method, bus name, object path, interface)
DBUS_SCREENSAVERS = (
    ("dbus-freedesktop", "org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver"),
    ("dbus-gnome", "org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
)


def gdbus_call(dest: str, path: str, method: str, timeout_s: int = 2) -> tuple[str, ...]:
    """argv for a session-bus method call with no arguments."""
    return (
        "gdbus", "call", "--session", "--timeout", str(timeout_s),
        "--dest", dest, "--object-path", path, "--method", method,
    )  # fmt: skip


def parse_gdbus_bool(text: str) -> bool | None:
    """``(true,)`` -> True, ``(false,)`` -> False, anything else None."""
    value = text.strip()
    if value == "(true,)":
        return True
    if value == "(false,)":
        return False
    return None


class LogindLockedCheck:
    """logind's LockedHint for the session (set by GNOME/KDE lock screens, not by i3lock)."""

    name = "logind-lockedhint"

    def __init__(self, runner: CommandRunner, session: str = "auto") -> None:
        """``session`` is a logind session id, or ``auto`` for the caller's session."""
        self._runner = runner
        self._argv = ("loginctl", "show-session", session, "-p", "LockedHint")

    def is_locked(self) -> bool | None:
        """LockedHint yes/no; None if logind cannot be asked."""
        result = self._runner(self._argv, 2.0)
        if not result.ok:
            return None
        value = parse_show_session(result.stdout).get("LockedHint")
        return {"yes": True, "no": False}.get(value or "")


class DBusActiveCheck:
    """A screensaver's ``GetActive`` over the session bus."""

    def __init__(self, runner: CommandRunner, dest: str, path: str, interface: str) -> None:
        """Ask ``interface.GetActive`` on ``dest`` at ``path``."""
        self.name = f"dbus-active:{dest}"
        self._runner = runner
        self._argv = gdbus_call(dest, path, f"{interface}.GetActive")

    def is_locked(self) -> bool | None:
        """True while the screensaver is active; None if it is not on the bus."""
        result = self._runner(self._argv, 3.0)
        return parse_gdbus_bool(result.stdout) if result.ok else None


def linux_lock_chain(
    runner: CommandRunner,
    command: Sequence[str] = (),
    session: str | None = None,
    uid: int | None = None,
    command_locker: CommandLocker | None = None,
) -> LockChain:
    """The Linux chain. ``session`` is XDG_SESSION_ID if known; ``uid`` the session's user."""
    lockers: list[Locker] = []
    checks: list[LockCheck] = []
    if command or command_locker is not None:
        locker = command_locker if command_locker is not None else CommandLocker(command)
        lockers.append(locker)
        checks.append(locker.process_check(uid))
    lockers.append(RunLocker("loginctl", ("loginctl", "lock-session", *([session] if session else [])), runner))
    for method, dest, path, interface in DBUS_SCREENSAVERS:
        lockers.append(RunLocker(method, gdbus_call(dest, path, f"{interface}.Lock"), runner))
    lockers.append(RunLocker("xdg-screensaver", ("xdg-screensaver", "lock"), runner))
    checks.append(LogindLockedCheck(runner, session or "auto"))
    checks.extend(DBusActiveCheck(runner, dest, path, interface) for _, dest, path, interface in DBUS_SCREENSAVERS)
    return LockChain(lockers, checks)
