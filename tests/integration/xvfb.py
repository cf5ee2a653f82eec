"""A real X server (Xvfb) for tests, and the i3lock processes tests start on it.

Missing tools fail loudly, naming the Debian package; nothing here skips.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
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
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    assert not lockers_running()
