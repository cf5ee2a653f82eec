"""A real X server (Xvfb) for tests, and the i3lock processes tests start on it.

Missing tools fail loudly, naming the Debian package; nothing here skips.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

PACKAGES = {
    "Xvfb": "xvfb",
    "xdotool": "xdotool",
    "i3lock": "i3lock",
    "gsettings": "libglib2.0-bin",
    "lsblk": "util-linux",
    "dbus-daemon": "dbus-daemon",
    "dunst": "dunst",
    "notify-send": "libnotify-bin",
}


def require(*tools: str) -> None:
    """Fail (never skip) when a tool the real test needs is missing."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        packages = " ".join(sorted({PACKAGES[t] for t in missing}))
        pytest.fail(f"{', '.join(missing)} not installed: apt-get install -y {packages}", pytrace=False)


def lockers_running() -> list[psutil.Process]:
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.name() == "i3lock" and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.NoSuchProcess:
            pass
    return found


def kill_lockers() -> None:
    procs = psutil.Process().children(recursive=True)
    for proc in procs:
        try:
            if proc.name() == "i3lock":
                proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=3)


@dataclass
class XServer:
    display: str
    proc: subprocess.Popen[bytes]

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}

    def move_mouse(self, x: int = 10, y: int = 10) -> None:
        subprocess.run(["xdotool", "mousemove", str(x), str(y)], env=self.env(), check=True, timeout=5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(5)


def run_xserver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[XServer]:
    """Start Xvfb on a free display, point DISPLAY at it, and clean up (lockers included)."""
    require("Xvfb", "xdotool", "i3lock")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-noreset", "-nolisten", "tcp", "-screen", "0", "1024x768x24"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            number = pipe.readline().strip().decode()
        if not number:
            pytest.fail(f"Xvfb did not start (exit {proc.poll()})", pytrace=False)
        server = XServer(f":{number}", proc)
        # The locker and notifier are children of this process: they read these.
        monkeypatch.setenv("DISPLAY", server.display)
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-session-bus")
        server.move_mouse()
        yield server
    finally:
        kill_lockers()
        stop_process(proc)
    assert not lockers_running()


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not gone within 5 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class NotificationDaemon:
    """A private session D-Bus with dunst (a real notification daemon) on an X server.

    dunst runs a script for every notification it displays; the script appends the app name,
    summary and body to ``shown`` (one tab-separated line each), which is what a person saw.
    Duplicates are not stacked, so each notification sent is one line.
    """

    bus_address: str
    shown: Path
    procs: list[subprocess.Popen[bytes]]

    def env(self, xserver: XServer) -> dict[str, str]:
        return {**xserver.env(), "DBUS_SESSION_BUS_ADDRESS": self.bus_address}

    def notifications(self) -> list[tuple[str, str, str]]:
        if not self.shown.exists():
            return []
        rows = [line.split("\t") for line in self.shown.read_text().splitlines() if line]
        return [(r[0], r[1], r[2]) for r in rows if len(r) == 3]

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)


def run_notification_daemon(xserver: XServer, tmp_path: Path) -> Iterator[NotificationDaemon]:
    """Start a session bus and dunst on ``xserver``; stop both afterwards."""
    require("dbus-daemon", "dunst", "notify-send")
    root = tmp_path / "notifications"
    root.mkdir()
    shown = root / "shown.tsv"
    script = root / "seen.sh"
    script.write_text(f"#!/bin/sh\nprintf '%s\\t%s\\t%s\\n' \"$DUNST_APP_NAME\" \"$DUNST_SUMMARY\" "
                      f"\"$DUNST_BODY\" >> '{shown}'\n")
    script.chmod(0o755)
    config = root / "dunstrc"
    # stack_duplicates off: a notice repeated while the first is still on screen is counted, not merged.
    config.write_text(f'[global]\n    font = DejaVu Sans 8\n    stack_duplicates = false\n'
                      f'[seen]\n    appname = "*"\n    script = {script}\n')
    address = f"unix:path={root}/bus"
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", f"--address={address}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    daemon = NotificationDaemon(address, shown, [bus])
    try:
        deadline = time.monotonic() + 10
        while not (root / "bus").exists():
            if bus.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dbus-daemon did not start (exit {bus.poll()})", pytrace=False)
            time.sleep(0.05)
        env = daemon.env(xserver)
        daemon.procs.append(subprocess.Popen(["dunst", "-config", str(config)], env=env,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        # dunst owns org.freedesktop.Notifications once it is ready: a test notice proves the chain.
        while True:
            probe = subprocess.run(["notify-send", "--app-name=probe", "--", "ready", "ready"], env=env,
                                   capture_output=True, timeout=10)  # fmt: skip
            if probe.returncode == 0 and any(n[0] == "probe" for n in daemon.notifications()):
                break
            if time.monotonic() > deadline:
                pytest.fail("dunst did not show a notification within 10 s", pytrace=False)
            time.sleep(0.2)
        yield daemon
    finally:
        daemon.stop()
