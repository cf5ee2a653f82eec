"""Idle clocks: the shared interface and the start-up choice among OS backends.

Each backend lives in its own module (``idle_x11``, ``idle_logind``, ``idle_windows``,
``idle_macos``, ``idle_activity``) and is imported only when it is tried, so a Windows-only
``ctypes.windll`` or a display-needing ``pynput`` never loads where it cannot work. The
choice is made once, in order, with a warning for each backend passed over (cf. watchdog's
``observers/__init__.py``). A source that stops working raises ``IdleClockLost`` from
``idle_seconds``; the controller then reports ``coverage_degraded`` and chooses again.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.errors import AgentError
from agent.posture.commands import CommandRunner, run_command

log = logging.getLogger(__name__)


class IdleClockLost(AgentError, RuntimeError):
    """The idle clock can no longer answer; ``reason`` is a short code such as ``x-server-gone``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class IdleSource(Protocol):
    """Seconds since the user last touched keyboard or mouse, in this session."""

    name: str

    def idle_seconds(self) -> float:
        """Current idle time; raises ``IdleClockLost`` if the clock has gone away."""
        ...

    def close(self) -> None:
        """Release the display connection, listeners or handles (idempotent)."""
        ...


@dataclass(frozen=True)
class IdleSourceCandidate:
    """A named way to open an idle source; ``open`` raises ``IdleClockLost`` if unavailable."""

    name: str
    open: Callable[[], IdleSource]


def open_first_idle_source(candidates: Sequence[IdleSourceCandidate]) -> IdleSource | None:
    """Open the first candidate that opens and answers once; warn for each one passed over."""
    for index, candidate in enumerate(candidates):
        try:
            source = candidate.open()
        except IdleClockLost as exc:
            log.warning("idle clock %s unavailable (%s)", candidate.name, exc)
            continue
        try:
            source.idle_seconds()
        except IdleClockLost as exc:
            log.warning("idle clock %s opened but failed its first reading (%s)", candidate.name, exc)
            source.close()
            continue
        if index:
            log.warning("using fallback idle clock %s", candidate.name)
        else:
            log.info("using idle clock %s", candidate.name)
        return source
    log.error("no idle clock is available: auto-lock cannot be enforced")
    return None


def _x11(display: str | None) -> Callable[[], IdleSource]:
    def open_x11() -> IdleSource:
        from agent.lock.idle_x11 import X11IdleSource

        return X11IdleSource(display)

    return open_x11


def _activity() -> IdleSource:
    from agent.lock.idle_activity import ActivityIdleSource

    return ActivityIdleSource()


def _logind(runner: CommandRunner, session: str) -> Callable[[], IdleSource]:
    def open_logind() -> IdleSource:
        from agent.lock.idle_logind import LogindIdleSource

        return LogindIdleSource(runner=runner, session=session)

    return open_logind


def _windows() -> IdleSource:
    from agent.lock.idle_windows import WindowsIdleSource

    return WindowsIdleSource()


def _macos(runner: CommandRunner) -> Callable[[], IdleSource]:
    def open_macos() -> IdleSource:
        from agent.lock.idle_macos import MacIdleSource

        return MacIdleSource(runner=runner)

    return open_macos


def idle_candidates(
    env: Mapping[str, str],
    platform: str = sys.platform,
    runner: CommandRunner = run_command,
) -> list[IdleSourceCandidate]:
    """The idle clocks worth trying on ``platform``, best first.

    On Linux under X11: the X server's MIT-SCREEN-SAVER clock, then pynput activity
    listeners, then logind's IdleHint. Under Wayland the X clocks only see XWayland
    windows, so logind comes first. ``env`` is the session environment (DISPLAY,
    XDG_SESSION_TYPE, XDG_SESSION_ID), read by the caller at the entry point.
    """
    if platform.startswith("win"):
        return [IdleSourceCandidate("windows-lastinput", _windows)]
    if platform == "darwin":
        return [IdleSourceCandidate("macos-hididle", _macos(runner))]
    display = env.get("DISPLAY") or None
    session = env.get("XDG_SESSION_ID") or "auto"
    x_clocks = [
        IdleSourceCandidate("x11-screensaver", _x11(display)),
        IdleSourceCandidate("pynput-activity", _activity),
    ]
    logind = [IdleSourceCandidate("logind-idlehint", _logind(runner, session))]
    if env.get("XDG_SESSION_TYPE") == "wayland" or (env.get("WAYLAND_DISPLAY") and not display):
        return logind + (x_clocks if display else [])
    return (x_clocks if display else []) + logind
