"""Idle time from systemd-logind's IdleHint, for sessions where X cannot be asked (Wayland).

logind only learns of idleness from the desktop (GNOME sets IdleHint when its own idle
timer fires), so this clock reads zero until then: coarse, but honest. ``IdleSinceHintMonotonic``
is in microseconds of CLOCK_MONOTONIC, which is what ``time.monotonic`` reads on Linux.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from agent.lock.idle import IdleClockLost
from agent.posture.commands import CommandRunner, run_command


def parse_show_session(text: str) -> dict[str, str]:
    """``Key=Value`` lines from ``loginctl show-session`` as a dict."""
    props: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            props[key.strip()] = value.strip()
    return props


def idle_from_props(props: dict[str, str], monotonic_now: float) -> float:
    """Idle seconds from IdleHint/IdleSinceHintMonotonic; 0 while logind says not idle."""
    if props.get("IdleHint") != "yes":
        return 0.0
    since_us = int(props.get("IdleSinceHintMonotonic", "0") or 0)
    if since_us <= 0:
        return 0.0
    return max(0.0, monotonic_now - since_us / 1_000_000)


class LogindIdleSource:
    """Asks ``loginctl show-session SESSION -p IdleHint -p IdleSinceHintMonotonic`` each reading."""

    name = "logind-idlehint"

    def __init__(
        self,
        runner: CommandRunner = run_command,
        session: str = "auto",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Check once that logind knows the session; raises ``IdleClockLost`` if not."""
        self._runner = runner
        self._argv = ("loginctl", "show-session", session, "-p", "IdleHint", "-p", "IdleSinceHintMonotonic")
        self._clock = clock
        self._read()

    def _read(self) -> dict[str, str]:
        result = self._runner(self._argv, 3.0)
        if not result.ok:
            raise IdleClockLost("logind-unavailable", result.describe())
        props = parse_show_session(result.stdout)
        if "IdleHint" not in props:
            raise IdleClockLost("logind-unavailable", "no IdleHint property")
        return props

    def idle_seconds(self) -> float:
        """Seconds since logind marked the session idle (0 if it has not)."""
        return idle_from_props(self._read(), self._clock())

    def close(self) -> None:
        """Nothing to release."""
