"""The auto-lock policy as a pure state machine: idle samples in, actions out.

Nothing here reads a clock or touches the OS. The controller feeds events carrying the time
(``IdleSample``, ``InputHappened``, ``InhibitorsSeen``, and the outcomes of the actions it was
asked to carry out: ``LockIssued``, ``LockNotIssued``, ``Verified``) and carries out the
actions returned (``Notify``, ``Lock``, ``Verify``, ``Emit``, ``ReportInhibitors``).

States::

    ACTIVE --idle >= timeout - warn--> WARNING --idle >= timeout--> LOCKING
    WARNING --input--> ACTIVE
    ACTIVE/WARNING --inhibitor (only if allowed)--> INHIBITED --released--> ACTIVE
    LOCKING --LockIssued--> VERIFYING --Verified(True)--> LOCKED --input--> ACTIVE
    VERIFYING --Verified(False)--> LOCKING (next method)
    LOCKING --LockNotIssued--> FAILED --retry_s--> LOCKING;  FAILED --input--> ACTIVE

Lockdown (``LockdownChanged(on=True)``: the collector reported the device lost) locks at once
from any unlocked state, and while it lasts input never leads back to ACTIVE: a sign-in at the
lock screen is met by a new lock, a locked session is re-checked every ``LOCKDOWN_RECHECK_S``
(and locked again if someone signed in), and a failed lock is retried every ``retry_s``
whatever the input. Its ``lock_enforced`` says ``trigger = "lost_device"``, once per lock actually issued
(a re-check that finds the session still locked is not reported again). ``on=False`` (IT
recorded the device found) ends it; idle locking carries on as before.

Which (state, event) pairs are legal is a table (``_TRANSITIONS``), in the manner of h11's
``_state.py``; a pair not in the table is a programming error and raises ``PolicyError``.
Idle counting restarts when an honoured inhibitor is released, so a long video does not end
in an instant lock with no warning.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.errors import AgentError

# How much an idle reading may run backwards without counting as input (clock jitter).
_INPUT_TOLERANCE_S = 0.05


class State(enum.Enum):
    """Where the policy is in one idle episode."""

    ACTIVE = "active"
    WARNING = "warning"
    INHIBITED = "inhibited"
    LOCKING = "locking"
    VERIFYING = "verifying"
    LOCKED = "locked"
    FAILED = "failed"


@dataclass(frozen=True)
class PolicyConfig:
    """The organisation's lock rules (the ``[lock]`` section)."""

    idle_timeout_s: float = 300.0
    warn_s: float = 30.0
    allow_inhibitors: bool = False
    retry_s: float = 60.0  # after a failed lock, try again this often while still idle

    def __post_init__(self) -> None:
        if not self.idle_timeout_s > 0:
            raise ValueError("idle_timeout_s must be positive")
        if not 0 <= self.warn_s < self.idle_timeout_s:
            raise ValueError("warn_s must be at least 0 and less than idle_timeout_s")
        if not self.retry_s > 0:
            raise ValueError("retry_s must be positive")

    @property
    def warn_at_s(self) -> float:
        """Idle seconds at which the warning is shown."""
        return self.idle_timeout_s - self.warn_s


# ---- events (inputs) -------------------------------------------------------------------


@dataclass(frozen=True)
class IdleSample:
    """The idle clock said ``idle_s`` seconds since the last input, at monotonic time ``now``."""

    now: float
    idle_s: float


@dataclass(frozen=True)
class InputHappened:
    """An activity source saw input at ``now`` (same as a sample with zero idle)."""

    now: float


@dataclass(frozen=True)
class InhibitorsSeen:
    """The applications currently holding an idle inhibitor (names only; may be empty)."""

    now: float
    names: tuple[str, ...]


@dataclass(frozen=True)
class LockIssued:
    """A locker accepted the request via ``method``; not yet confirmed. ``now`` is when that
    locker was asked (the lateness reported once the lock is verified is measured to it).

    ``refused`` are the methods tried before it in the same attempt, ``reason`` why they refused.
    """

    now: float
    method: str
    refused: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class LockNotIssued:
    """Every remaining locker refused; ``methods_tried`` in order, ``reason`` in brief."""

    now: float
    methods_tried: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Verified:
    """The verifier's answer for the method last issued."""

    now: float
    locked: bool
    reason: str = ""


@dataclass(frozen=True)
class LockdownChanged:
    """The collector reported the device lost (``on``), or IT recorded it found (not ``on``)."""

    now: float
    on: bool


Event = IdleSample | InputHappened | InhibitorsSeen | LockIssued | LockNotIssued | Verified | LockdownChanged

ALREADY_LOCKED = "already-locked"  # the method name of a lock request that found the session locked
LOCKDOWN_RECHECK_S = 1.0  # in lockdown, how often a locked session is checked (and locked again if signed in)


# ---- actions (outputs) -----------------------------------------------------------------


@dataclass(frozen=True)
class Notify:
    """Warn the user that the screen locks in ``seconds_left``."""

    seconds_left: float


@dataclass(frozen=True)
class Lock:
    """Lock the session with the first locker not in ``exclude``."""

    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verify:
    """Confirm the session is locked after ``method`` was issued."""

    method: str


@dataclass(frozen=True)
class Emit:
    """Record an event: ``body`` uses the proto field names of ``kind``."""

    kind: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class ReportInhibitors:
    """The inhibitor set changed; ``honoured`` says whether it now holds off the lock."""

    names: tuple[str, ...]
    honoured: bool


Action = Notify | Lock | Verify | Emit | ReportInhibitors


class PolicyError(AgentError, RuntimeError):
    """An event arrived that the current state cannot take (a controller bug)."""


# ---- the machine ------------------------------------------------------------------------


class LockPolicy:
    """One session's lock policy. Feed events with ``handle``; carry out the actions returned."""

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        self.state = State.ACTIVE
        self.inhibitors: tuple[str, ...] = ()
        self._last_idle_s = 0.0
        self._last_now: float | None = None
        self._floor_at = -math.inf  # idle counts from no earlier than this
        self._idle_started_at = 0.0
        self._watch_from: float | None = None  # the first reading: no lock could be due before it
        self._due_at = 0.0
        self._issued_at = 0.0  # when the method being verified was asked to lock
        self._tried: tuple[str, ...] = ()  # every method attempted this episode, in order
        self._unconfirmed: tuple[str, ...] = ()  # issued, but no check confirmed the lock
        self._reasons: tuple[str, ...] = ()  # why methods refused
        self._failed_at = 0.0
        self._failure_reported = False
        self.lockdown = False
        self._lockdown_reported = False  # a lockdown lock_enforced was emitted since it began
        self._lockdown_checked_at = -math.inf

    # -- public --------------------------------------------------------------------------

    @property
    def honouring_inhibitors(self) -> bool:
        """True while an allowed inhibitor holds off locking."""
        return self.config.allow_inhibitors and bool(self.inhibitors)

    def handle(self, event: Event) -> list[Action]:
        """Apply one event; returns the actions to carry out, in order."""
        handler = _TRANSITIONS.get((self.state, type(event)))
        if handler is None:
            raise PolicyError(f"{type(event).__name__} is not expected in state {self.state.value}")
        return handler(self, event)

    def next_check_in(self, now: float) -> float | None:
        """Seconds until a threshold could be crossed with no input, or None if not timed."""
        if self._last_now is None:
            return None
        idle = self._effective_idle(self._last_idle_s + (now - self._last_now), now)
        if self.state is State.ACTIVE:
            return max(0.0, self.config.warn_at_s - idle)
        if self.state is State.WARNING:
            return max(0.0, self.config.idle_timeout_s - idle)
        if self.state is State.FAILED:
            return max(0.0, self._failed_at + self.config.retry_s - now)
        return None

    # -- helpers -------------------------------------------------------------------------

    def _effective_idle(self, idle_s: float, now: float) -> float:
        return max(0.0, min(idle_s, now - self._floor_at))

    def _observe(self, ev: IdleSample | InputHappened) -> tuple[float, bool]:
        """Record a reading; return (effective idle, whether input happened since the last one)."""
        now, idle_s = ev.now, (ev.idle_s if isinstance(ev, IdleSample) else 0.0)
        input_seen = idle_s + _INPUT_TOLERANCE_S < self._last_idle_s + (
            now - self._last_now if self._last_now is not None else 0.0
        )
        self._last_idle_s = idle_s
        self._last_now = now
        if self._watch_from is None:
            self._watch_from = now
        if input_seen or self.state in (State.ACTIVE, State.WARNING, State.INHIBITED):
            self._idle_started_at = max(now - idle_s, self._floor_at)
        return self._effective_idle(idle_s, now), input_seen

    def _lock_now(self, now: float) -> list[Action]:
        """Lockdown: lock at once (due now), whatever the idle time."""
        self._due_at = self._lockdown_checked_at = now
        self._failure_reported = False
        return self._new_attempt()

    def _start_locking(self, now: float, idle: float) -> list[Action]:
        # Lateness is the enforcer's: a deadline that passed before this policy's first reading
        # (the session component starting, or a new idle clock) counts from that reading.
        due = now - (idle - self.config.idle_timeout_s)
        self._due_at = max(due, self._watch_from if self._watch_from is not None else due)
        self._failure_reported = False
        return self._new_attempt()

    def _new_attempt(self) -> list[Action]:
        self.state = State.LOCKING
        self._tried = self._unconfirmed = self._reasons = ()
        return [Lock()]

    def _resume(self) -> None:
        """Back to counting idleness after input (held off if an allowed inhibitor is present)."""
        self.state = State.INHIBITED if self.honouring_inhibitors else State.ACTIVE

    def _idle_at(self, now: float) -> float:
        return max(0.0, now - self._idle_started_at)

    # -- handlers ------------------------------------------------------------------------

    def _on_sample_active(self, ev: IdleSample | InputHappened) -> list[Action]:
        idle, _ = self._observe(ev)
        if self.lockdown:
            return self._lock_now(ev.now)
        if idle >= self.config.idle_timeout_s:
            return self._start_locking(ev.now, idle)
        if idle >= self.config.warn_at_s and self.config.warn_s > 0:
            self.state = State.WARNING
            return [Notify(seconds_left=self.config.idle_timeout_s - idle)]
        return []

    def _on_sample_warning(self, ev: IdleSample | InputHappened) -> list[Action]:
        idle, _ = self._observe(ev)
        if self.lockdown:
            return self._lock_now(ev.now)
        if idle >= self.config.idle_timeout_s:
            return self._start_locking(ev.now, idle)
        if idle < self.config.warn_at_s:
            self.state = State.ACTIVE
        return []

    def _on_sample_record(self, ev: IdleSample | InputHappened) -> list[Action]:
        self._observe(ev)
        return []

    def _on_sample_locked(self, ev: IdleSample | InputHappened) -> list[Action]:
        _, input_seen = self._observe(ev)
        if self.lockdown and (input_seen or ev.now - self._lockdown_checked_at >= LOCKDOWN_RECHECK_S):
            # A lost device: make sure it is still locked (someone may have signed in), and lock again if not.
            self._lockdown_checked_at = ev.now
            return self._lock_now(ev.now)
        if input_seen:
            self._resume()
        return []

    def _on_sample_failed(self, ev: IdleSample | InputHappened) -> list[Action]:
        _, input_seen = self._observe(ev)
        if input_seen and not self.lockdown:
            self._resume()
            return []
        if ev.now >= self._failed_at + self.config.retry_s and (self.lockdown or not self.honouring_inhibitors):
            return self._new_attempt()
        return []

    def _on_lockdown(self, ev: LockdownChanged) -> list[Action]:
        if ev.on == self.lockdown:
            return []
        self.lockdown = ev.on
        self._lockdown_reported = False
        if not ev.on:
            return []
        if self.state in (State.ACTIVE, State.WARNING, State.INHIBITED, State.FAILED):
            return self._lock_now(ev.now)
        if self.state is State.LOCKED:  # already locked (idle): say so, as the lockdown's confirmation
            self._due_at = ev.now
            return self._enforced(ev.now, self._tried[-1] if self._tried else ALREADY_LOCKED)
        return []  # LOCKING / VERIFYING: the attempt under way reports with the lockdown trigger

    def _on_inhibitors(self, ev: InhibitorsSeen) -> list[Action]:
        names = tuple(sorted(set(ev.names)))
        if names == self.inhibitors:
            return []
        was_honoured = self.honouring_inhibitors
        self.inhibitors = names
        actions: list[Action] = [ReportInhibitors(names, self.honouring_inhibitors)]
        if self.honouring_inhibitors and self.state in (State.ACTIVE, State.WARNING):
            self.state = State.INHIBITED
        elif was_honoured and not self.honouring_inhibitors:
            self._floor_at = ev.now  # idleness counts afresh from the release
            if self.state is State.INHIBITED:
                self.state = State.ACTIVE
        return actions

    def _on_lock_issued(self, ev: LockIssued) -> list[Action]:
        self.state = State.VERIFYING
        self._issued_at = ev.now
        self._tried = (*self._tried, *ev.refused, ev.method)
        self._reasons = (*self._reasons, ev.reason) if ev.reason else self._reasons
        return [Verify(ev.method)]

    def _on_lock_not_issued(self, ev: LockNotIssued) -> list[Action]:
        tried = (*self._tried, *ev.methods_tried)
        self.state = State.FAILED
        self._failed_at = ev.now
        if self._failure_reported:
            return []
        self._failure_reported = True
        reasons = [*self._reasons]
        if self._unconfirmed:
            reasons.append(f"not confirmed after {', '.join(self._unconfirmed)}")
        reasons.append(ev.reason)
        body = {
            "idle_seconds": round(self._idle_at(ev.now), 3),
            "methods_tried": list(tried),
            "reason": "; ".join(r for r in reasons if r),
        }
        return [Emit("lock_failed", body)]

    def _on_verified(self, ev: Verified) -> list[Action]:
        if not ev.locked:
            self.state = State.LOCKING
            self._unconfirmed = (*self._unconfirmed, self._tried[-1])
            return [Lock(exclude=self._tried)]
        self.state = State.LOCKED
        method = self._tried[-1]
        if self.lockdown and self._lockdown_reported and method == ALREADY_LOCKED:
            return []  # a lockdown re-check that found the session still locked: nothing new to report
        return self._enforced(ev.now, method)

    def _enforced(self, now: float, method: str) -> list[Action]:
        body = {
            "idle_seconds": round(self._idle_at(now), 3),
            "method": method,
            "idle_timeout_s": round(self.config.idle_timeout_s),
            # From the deadline to the request that locked the screen, not to our confirmation of it
            # (the locker's settle time and the check's polling are not the user's wait).
            "lateness_s": round(max(0.0, self._issued_at - self._due_at), 3),
            "trigger": "lost_device" if self.lockdown else "idle",
        }
        if self.lockdown:
            self._lockdown_reported = True
        return [Emit("lock_enforced", body)]


_Handler = Callable[[LockPolicy, Any], list[Action]]
_SAMPLES = (IdleSample, InputHappened)
_PER_STATE_SAMPLE: dict[State, _Handler] = {
    State.ACTIVE: LockPolicy._on_sample_active,
    State.WARNING: LockPolicy._on_sample_warning,
    State.INHIBITED: LockPolicy._on_sample_record,
    State.LOCKING: LockPolicy._on_sample_record,
    State.VERIFYING: LockPolicy._on_sample_record,
    State.LOCKED: LockPolicy._on_sample_locked,
    State.FAILED: LockPolicy._on_sample_failed,
}

# (state, event type) -> handler. Anything missing is a PolicyError.
_TRANSITIONS: dict[tuple[State, type], _Handler] = {
    **{(state, kind): handler for state, handler in _PER_STATE_SAMPLE.items() for kind in _SAMPLES},
    **{(state, InhibitorsSeen): LockPolicy._on_inhibitors for state in State},
    **{(state, LockdownChanged): LockPolicy._on_lockdown for state in State},
    (State.LOCKING, LockIssued): LockPolicy._on_lock_issued,
    (State.LOCKING, LockNotIssued): LockPolicy._on_lock_not_issued,
    (State.VERIFYING, Verified): LockPolicy._on_verified,
}
