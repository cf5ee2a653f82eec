"""Desktop notifications from the session component: the "your screen will lock" warning and
the notice that a case file has just gone somewhere it must not.

The notification command is started and not waited for: a notification daemon that is
slow or absent must never delay the lock. Children are reaped on the next call and
killed by ``close``. Failures are logged once per kind of failure, never raised.

Per platform: ``notify-send`` (libnotify, over D-Bus to the desktop's notification daemon) on
Linux, ``osascript``'s ``display notification`` on macOS, and on Windows a toast shown by
Windows PowerShell through the WinRT ToastNotificationManager, under PowerShell's own
registered application id (a toast needs a registered AppUserModelID; PowerShell's ships with
Windows, so nothing is installed). The text goes to PowerShell base64-encoded (-EncodedCommand)
and inside single quotes, so no wording set in policy can change the script.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from collections.abc import Callable, Sequence

from agent.lock.lockers import ChildProcess, spawn_detached

log = logging.getLogger(__name__)

TITLE = "Screen will lock"
# Windows PowerShell's AppUserModelID, registered by Windows itself: toasts shown under it need
# no Start-menu shortcut of our own.
POWERSHELL_APP_ID = r"{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\WindowsPowerShell\v1.0\powershell.exe"


def message(seconds_left: float) -> str:
    """The warning text (no personal data)."""
    seconds = max(1, round(seconds_left))
    return f"This computer will lock in {seconds} seconds unless it is used. Move the mouse to keep working."


def _applescript_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# PowerShell ends a single-quoted string at any of these, and takes each one doubled as itself.
_POWERSHELL_QUOTES = "'\u2018\u2019\u201a\u201b"


def _powershell_string(text: str) -> str:
    return "'" + "".join(c * 2 if c in _POWERSHELL_QUOTES else c for c in text) + "'"


def windows_toast_script(title: str, text: str) -> str:
    """The PowerShell that shows one toast with ``title`` and ``text`` (both literal strings)."""
    return "\n".join((
        "$ErrorActionPreference = 'Stop'",
        "[Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime]"
        " | Out-Null",
        "$xml = [Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent("
        "[Windows.UI.Notifications.ToastTemplateType]::ToastText02)",
        "$lines = $xml.GetElementsByTagName('text')",
        f"$lines.Item(0).AppendChild($xml.CreateTextNode({_powershell_string(title)})) | Out-Null",
        f"$lines.Item(1).AppendChild($xml.CreateTextNode({_powershell_string(text)})) | Out-Null",
        f"$notifier = [Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier("
        f"{_powershell_string(POWERSHELL_APP_ID)})",
        "$notifier.Show([Windows.UI.Notifications.ToastNotification]::new($xml))",
    ))


def desktop_argv(platform: str, title: str, text: str, timeout_s: float) -> tuple[str, ...] | None:
    """The command that shows ``title``/``text`` on ``platform`` for about ``timeout_s``, or None."""
    if platform.startswith("linux"):
        timeout_ms = str(int(max(1.0, timeout_s) * 1000))
        return ("notify-send", "--urgency=critical", "--app-name=Caseguard", f"--expire-time={timeout_ms}",
                "--", title, text)  # fmt: skip
    if platform == "darwin":
        script = f"display notification {_applescript_string(text)} with title {_applescript_string(title)}"
        return ("osascript", "-e", script)
    if platform == "win32":
        encoded = base64.b64encode(windows_toast_script(title, text).encode("utf-16-le")).decode("ascii")
        return ("powershell.exe", "-NoProfile", "-NonInteractive", "-WindowStyle", "Hidden",
                "-EncodedCommand", encoded)  # fmt: skip
    return None


def notify_argv(platform: str, seconds_left: float) -> tuple[str, ...] | None:
    """The command that shows the lock warning on ``platform``, or None where there is none."""
    return desktop_argv(platform, TITLE, message(seconds_left), seconds_left)


class Notifier:
    """Shows desktop notifications with the platform's command; never blocks, never raises."""

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
        # Why the last notification failed ("unsupported", "spawn-failed", "exit-N"); "" once one is shown.
        self.failing = ""

    def notify(self, seconds_left: float) -> None:
        """Start the notification command for ``seconds_left`` before the lock."""
        self.show(TITLE, message(seconds_left), seconds_left, what="lock warning")

    def show(self, title: str, text: str, timeout_s: float, *, what: str = "notification") -> bool:
        """Start the command showing ``title``/``text``; False (and logged once) if it could not start."""
        self._reap()
        argv = desktop_argv(self._platform, title, text, timeout_s)
        if argv is None:
            self._warn_once("unsupported", "no desktop notification on %s", self._platform)
            self.failing = "unsupported"
            return False
        try:
            self._pending.append(self._spawn(argv))
        except OSError as exc:
            self._warn_once("spawn", "%s not shown: %s: %s", what, argv[0], exc.strerror)
            self.failing = "spawn-failed"
            return False
        return True

    def poll(self) -> str:
        """Reap finished commands; why notifications are failing, or "" when the last one was shown."""
        self._reap()
        return self.failing

    def _reap(self) -> None:
        still: list[ChildProcess] = []
        for child in self._pending:
            code = child.poll()
            if code is None:
                still.append(child)
            elif code != 0:
                self._warn_once("exit", "notification command exited %s (no notification daemon?)", code)
                self.failing = f"exit-{code}"
            else:
                self.failing = ""
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
