"""Idle time on macOS from IOHIDSystem's HIDIdleTime (nanoseconds), via ``ioreg``."""

from __future__ import annotations

import re

from agent.lock.idle import IdleClockLost
from agent.posture.commands import CommandRunner, run_command

_HID_IDLE = re.compile(r'"HIDIdleTime"\s*=\s*(\d+)')
IOREG_ARGV = ("ioreg", "-c", "IOHIDSystem", "-d", "4", "-r", "-k", "HIDIdleTime")


def parse_hid_idle_seconds(text: str) -> float | None:
    """The first ``"HIDIdleTime" = N`` in ``ioreg`` output, in seconds; None if absent."""
    match = _HID_IDLE.search(text)
    return int(match.group(1)) / 1e9 if match else None


class MacIdleSource:
    """Runs ``ioreg -c IOHIDSystem`` for each reading (a few ms)."""

    name = "macos-hididle"

    def __init__(self, runner: CommandRunner = run_command) -> None:
        """Keep the runner; the first reading shows whether ioreg works."""
        self._runner = runner

    def idle_seconds(self) -> float:
        """Seconds since the last HID input."""
        result = self._runner(IOREG_ARGV, 3.0)
        seconds = parse_hid_idle_seconds(result.stdout) if result.ok else None
        if seconds is None:
            raise IdleClockLost("ioreg-failed", result.describe())
        return seconds

    def close(self) -> None:
        """Nothing to release."""
