"""Test doubles for the lock component: clocks, idle sources, lockers, checks, sinks, runners."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agent.lock.idle import IdleClockLost
from agent.lock.lockers import LockError
from agent.posture.commands import CommandResult


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSink:
    """An EventSink that keeps what was emitted (thread-safe)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def emit(self, kind: str, body: Mapping[str, Any]) -> None:
        with self._lock:
            self.events.append((kind, dict(body)))

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for k, body in self.events if k == kind]


class FakeIdleSource:
    """Idle = clock - last input, until ``lose`` makes it raise."""

    def __init__(self, name: str, clock: FakeClock) -> None:
        self.name = name
        self._clock = clock
        self.last_input = clock.now
        self.lost: str | None = None
        self.closed = False

    def touch(self) -> None:
        self.last_input = self._clock.now

    def lose(self, reason: str) -> None:
        self.lost = reason

    def idle_seconds(self) -> float:
        if self.lost:
            raise IdleClockLost(self.lost)
        return self._clock.now - self.last_input

    def close(self) -> None:
        self.closed = True


class FakeLocker:
    """A locker that succeeds (and flips ``locked`` on a shared state) or fails."""

    def __init__(self, method: str, state: dict[str, bool], works: bool = True, takes: bool = True) -> None:
        self.method = method
        self._state = state
        self.works = works
        self.takes = takes  # whether the lock actually happens after the request
        self.calls = 0

    def lock(self) -> None:
        self.calls += 1
        if not self.works:
            raise LockError(f"{self.method} exited 1")
        if self.takes:
            self._state["locked"] = True


class StateCheck:
    """A lock check reading the shared state."""

    name = "state"

    def __init__(self, state: dict[str, bool]) -> None:
        self._state = state

    def is_locked(self) -> bool | None:
        return self._state.get("locked", False)


class FakeNotifier:
    """Counts warnings."""

    def __init__(self) -> None:
        self.warnings: list[float] = []
        self.closed = False

    def notify(self, seconds_left: float) -> None:
        self.warnings.append(seconds_left)

    def close(self) -> None:
        self.closed = True


def canned_runner(answers: Mapping[tuple[str, ...], CommandResult | str]) -> Callable[..., CommandResult]:
    """A CommandRunner answering from a table (str values are stdout with exit 0); else 127."""
    calls: list[tuple[str, ...]] = []

    def run(argv: Sequence[str], timeout_s: float = 5.0) -> CommandResult:
        key = tuple(argv)
        calls.append(key)
        answer = answers.get(key)
        if answer is None:
            return CommandResult(key, 127, "", f"{key[0]}: command not found")
        if isinstance(answer, str):
            return CommandResult(key, 0, answer, "")
        return dataclasses.replace(answer, argv=key)

    run.calls = calls  # type: ignore[attr-defined]
    return run
