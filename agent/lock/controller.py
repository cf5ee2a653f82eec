"""The lock controller: one thread that samples the idle clock, drives the policy and acts.

It samples at least every ``poll_interval_s`` and exactly when the policy says a threshold
could next be crossed (idle time cannot grow faster than the clock), so the lock is issued
within milliseconds of the timeout. Lockers, checks, notifier, idle clocks, clocks and the
sink are all passed in. If the idle clock is lost it emits ``coverage_degraded``
(component ``idle-clock``), falls back to the next clock, and keeps running; once a clock
has worked for ``recover_after_s`` it emits ``coverage_degraded`` with ``recovered`` true.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from agent.events import EventSink
from agent.lock.idle import IdleClockLost, IdleSource, IdleSourceCandidate, open_first_idle_source
from agent.lock.inhibitors import InhibitorSource, NoInhibitors
from agent.lock.lockers import LockChain
from agent.lock.policy import (
    ALREADY_LOCKED,
    Action,
    Emit,
    IdleSample,
    InhibitorsSeen,
    Lock,
    LockdownChanged,
    LockIssued,
    LockNotIssued,
    LockPolicy,
    Notify,
    PolicyConfig,
    ReportInhibitors,
    State,
    Verified,
    Verify,
)

log = logging.getLogger(__name__)

_MIN_SLEEP_S = 0.01


class WarningNotifier(Protocol):
    """Shows the pre-lock warning (see ``agent.lock.notify.Notifier``)."""

    def notify(self, seconds_left: float) -> None:
        """Show the warning; must not raise or block for long."""
        ...

    def close(self) -> None:
        """Release anything still running."""
        ...


# Idle clocks that jump rather than grow with time (logind's idle hint turns on all at once, after
# the desktop's own delay): read every poll_interval_s, since waiting for "warn_at - idle" assumes growth.
_JUMPING_CLOCKS = frozenset({"logind-idlehint"})


def _nothing() -> None:
    return None


class LockController:
    """Enforces the idle lock in this session; run it with ``start``/``stop`` or ``run``."""

    def __init__(
        self,
        sink: EventSink,
        policy: PolicyConfig,
        *,
        idle_candidates: Sequence[IdleSourceCandidate],
        lock_chain: LockChain,
        notifier: WarningNotifier,
        inhibitors: InhibitorSource | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        poll_interval_s: float = 1.0,
        active_poll_s: float | None = None,
        inhibitor_interval_s: float = 5.0,
        reopen_interval_s: float = 10.0,
        max_reopen_interval_s: float = 300.0,
        recover_after_s: float = 5.0,
        verify_timeout_s: float = 2.0,
        verify_interval_s: float = 0.1,
        on_change: Callable[[], None] = _nothing,
        stop_event: threading.Event | None = None,
    ) -> None:
        """Wire the parts; nothing runs until ``start`` (or ``run``).

        ``on_change`` is called (from the controller thread) when enforcement starts or
        stops or the inhibitor set changes: wire it to the lock-posture monitor's ``poke``.

        ``poll_interval_s`` is the longest wait between readings of the idle clock while a warning
        is up (so input dismisses it at once) or a lock is pending; ``active_poll_s`` (default: the
        same) the longest while the person is active. Then the next reading is due when the warning
        could first be due: idle time grows no faster than the clock, so waiting ``warn_at - idle``
        can never make a warning or a lock late. A lockdown asked for wakes the controller at once.
        """
        self._sink = sink
        self._config = policy
        self._candidates = tuple(idle_candidates)
        self._chain = lock_chain
        self._notifier = notifier
        self._inhibitor_source = inhibitors if inhibitors is not None else NoInhibitors()
        self._clock = clock
        self._wall_clock = wall_clock
        self._poll_interval_s = poll_interval_s
        self._active_poll_s = poll_interval_s if active_poll_s is None else max(poll_interval_s, active_poll_s)
        self._inhibitor_interval_s = inhibitor_interval_s
        self._reopen_interval_s = reopen_interval_s
        self._max_reopen_interval_s = max_reopen_interval_s
        self._open_failures = 0
        self._recover_after_s = recover_after_s
        self._verify_timeout_s = verify_timeout_s
        self._verify_interval_s = verify_interval_s
        self._on_change = on_change
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._wake = threading.Event()  # a lockdown asked for, or stop: step now
        self._thread: threading.Thread | None = None

        self._policy = LockPolicy(policy)
        self._source: IdleSource | None = None
        self._source_opened_at = 0.0
        self._cooling: dict[str, float] = {}  # candidate name -> monotonic time it may be retried
        self._next_open_at = 0.0
        self._next_inhibitors_at = 0.0
        self._degraded = False
        self._recovery_pending = False
        self._errors_seen: set[str] = set()
        self._inhibitors: tuple[str, ...] = ()
        self._last_lock_at: datetime | None = None
        self._lockdown_wanted = False  # set from any thread; the controller thread applies it

    def set_lockdown(self, on: bool) -> None:
        """The device was reported lost (lock every session now, and again at each sign-in) or found."""
        self._lockdown_wanted = on
        self._wake.set()

    @property
    def lockdown(self) -> bool:
        """Whether a lockdown is asked for (the collector reports the device lost)."""
        return self._lockdown_wanted

    # -- what the heartbeat and lock posture read ------------------------------------------

    @property
    def last_lock_at(self) -> datetime | None:
        """When the agent last confirmed a lock (UTC), or None."""
        return self._last_lock_at

    @property
    def enforcement_active(self) -> bool:
        """True while the thread runs with a working idle clock."""
        running = self._thread is not None and self._thread.is_alive() and not self._stop.is_set()
        return running and self._source is not None

    @property
    def inhibitors(self) -> tuple[str, ...]:
        """Applications holding an idle inhibitor at the last look (names only)."""
        return self._inhibitors

    @property
    def idle_source_name(self) -> str | None:
        """The idle clock in use, or None."""
        source = self._source
        return source.name if source is not None else None

    @property
    def state(self) -> State:
        """The policy state (for diagnostics and tests)."""
        return self._policy.state

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the controller thread."""
        if self._thread is not None:
            raise RuntimeError("LockController already started")
        self._thread = threading.Thread(target=self.run, name="caseguard-lock", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("lock controller did not stop within %.1fs", timeout_s)

    def is_alive(self) -> bool:
        """Whether the controller thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        """The loop: step, then wait (interruptibly) for the next step, until stopped."""
        try:
            while not self._stop.is_set():
                try:
                    delay = self.step()
                except Exception as exc:  # the lock must outlive any one bad step
                    delay = self._poll_interval_s
                    self._step_failed(exc)
                self._wake.wait(delay)
                self._wake.clear()
        finally:
            self._drop_source()
            self._notifier.close()

    # -- one step ------------------------------------------------------------------------------

    def step(self) -> float:
        """One iteration: (re)open a clock, read it, drive the policy; returns seconds to wait."""
        now = self._clock()
        if self._source is None:
            if now >= self._next_open_at:
                self._open_source(now)
            if self._source is None:
                return max(_MIN_SLEEP_S, min(self._poll_interval_s, self._next_open_at - now))
        source = self._source
        if now >= self._next_inhibitors_at:
            self._next_inhibitors_at = now + self._inhibitor_interval_s
            self._execute(self._policy.handle(InhibitorsSeen(now, self._inhibitor_source.names())))
        try:
            idle = source.idle_seconds()
        except IdleClockLost as exc:
            self._lose_source(exc)
            return _MIN_SLEEP_S
        now = self._clock()
        if self._recovery_pending and now - self._source_opened_at >= self._recover_after_s:
            self._recovery_pending = False
            self._degraded = False
            self._emit_coverage(source.name, "idle-clock-back", recovered=True)
        if self._policy.lockdown != self._lockdown_wanted:
            self._execute(self._policy.handle(LockdownChanged(now, self._lockdown_wanted)))
        self._execute(self._policy.handle(IdleSample(self._clock(), idle)))
        now = self._clock()
        next_check = self._policy.next_check_in(now)
        if next_check is None:
            return self._poll_interval_s
        longest = self._poll_interval_s
        if self._policy.state is State.ACTIVE and source.name not in _JUMPING_CLOCKS:
            longest = min(self._active_poll_s, max(0.0, self._next_inhibitors_at - now))
        return max(_MIN_SLEEP_S, min(longest, next_check))

    def _open_source(self, now: float) -> None:
        candidates = [c for c in self._candidates if self._cooling.get(c.name, 0.0) <= now]
        source = open_first_idle_source(candidates)
        if source is None:
            # Back off while nothing works (e.g. the X server is gone for good), up to a cap.
            delay = min(self._max_reopen_interval_s, self._reopen_interval_s * 2**self._open_failures)
            self._open_failures += 1
            self._next_open_at = now + delay
            if not self._degraded:
                self._degraded = True
                self._emit_coverage("", "no-idle-clock", recovered=False)
            return
        self._source = source
        self._source_opened_at = now
        self._open_failures = 0
        self._policy = LockPolicy(self._config)  # a new clock starts a new idle episode
        self._next_inhibitors_at = now
        self._recovery_pending = self._degraded
        self._on_change()

    def _lose_source(self, exc: IdleClockLost) -> None:
        source = self._source
        name = source.name if source is not None else ""
        log.warning("idle clock %s lost: %s", name, exc)
        self._drop_source()
        now = self._clock()
        self._cooling[name] = now + self._reopen_interval_s
        self._next_open_at = now
        self._recovery_pending = False
        if not self._degraded:
            self._degraded = True
            self._emit_coverage(name, exc.reason, recovered=False)
        self._on_change()

    def _drop_source(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            try:
                source.close()
            except Exception:  # closing a dead clock must not stop the controller
                log.debug("closing idle clock", exc_info=True)

    def _step_failed(self, exc: Exception) -> None:
        kind = type(exc).__name__
        if kind in self._errors_seen:  # each kind of failure is logged and reported once
            log.debug("lock controller step failed again: %s", kind)
            return
        self._errors_seen.add(kind)
        log.exception("lock controller step failed")
        try:
            self._emit_coverage("lock-controller", "controller-error", recovered=False, component="lock")
        except Exception:
            log.exception("could not report the controller error")

    def _emit_coverage(self, scope: str, reason: str, *, recovered: bool, component: str = "idle-clock") -> None:
        body = {"component": component, "reason": reason, "recovered": recovered, "scope": scope}
        self._sink.emit("coverage_degraded", body)

    # -- carrying out the policy's actions -------------------------------------------------

    def _execute(self, actions: list[Action]) -> None:
        pending = deque(actions)
        while pending and not self._stop.is_set():
            pending.extend(self._carry_out(pending.popleft()))

    def _carry_out(self, action: Action) -> list[Action]:
        if isinstance(action, Notify):
            self._notifier.notify(action.seconds_left)
            return []
        if isinstance(action, Lock):
            return self._lock(action)
        if isinstance(action, Verify):
            locked = self._wait_until_locked()
            if locked is None:
                return []  # stopping: leave the policy where it is
            reason = "" if locked else f"no check confirmed the lock within {self._verify_timeout_s:.1f}s"
            return self._policy.handle(Verified(self._clock(), locked, reason))
        if isinstance(action, Emit):
            self._sink.emit(action.kind, action.body)
            if action.kind == "lock_enforced":
                self._last_lock_at = datetime.fromtimestamp(self._wall_clock(), UTC)
            return []
        if isinstance(action, ReportInhibitors):
            self._inhibitors = action.names
            log.info("idle inhibitors %s (%s)", list(action.names), "honoured" if action.honoured else "ignored")
            self._on_change()
            return []
        raise TypeError(f"unknown action {action!r}")

    def _lock(self, action: Lock) -> list[Action]:
        if not action.exclude and self._chain.is_locked() is True:
            return self._policy.handle(LockIssued(self._clock(), ALREADY_LOCKED))
        result = self._chain.issue(action.exclude, clock=self._clock)
        if result.method is None:
            return self._policy.handle(LockNotIssued(self._clock(), result.tried, result.reason))
        refused = result.tried[:-1]
        asked_at = result.asked_at if result.asked_at is not None else self._clock()
        return self._policy.handle(LockIssued(asked_at, result.method, refused, result.reason))

    def _wait_until_locked(self) -> bool | None:
        """Poll the checks until one confirms or the deadline passes; None if stopping."""
        deadline = self._clock() + self._verify_timeout_s
        # Bounded by tries as well as by the clock, so a stalled clock cannot loop forever.
        for _ in range(math.ceil(self._verify_timeout_s / self._verify_interval_s) + 1):
            if self._chain.is_locked() is True:
                return True
            if self._clock() >= deadline:
                break
            if self._stop.wait(self._verify_interval_s):
                return None
        return False
