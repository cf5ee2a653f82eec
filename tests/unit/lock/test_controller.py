"""LockController driven step by step with a fake clock, fake idle clocks and fake lockers."""

from __future__ import annotations

import functools
import threading
import time

import pytest

from agent.lock.controller import LockController
from agent.lock.idle import IdleClockLost, IdleSourceCandidate
from agent.lock.lockers import LockChain
from agent.lock.policy import ALREADY_LOCKED, PolicyConfig, State
from tests.unit.lock.fakes import FakeClock, FakeIdleSource, FakeLocker, FakeNotifier, RecordingSink, StateCheck

POLICY = PolicyConfig(idle_timeout_s=60, warn_s=10)


class Inhibitors:
    def __init__(self) -> None:
        self.current: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return self.current


def make(clock, sources, lockers=None, state=None, **kwargs):
    state = state if state is not None else {"locked": False}
    lockers = lockers if lockers is not None else [FakeLocker("command", state)]
    sink = RecordingSink()
    notifier = FakeNotifier()
    candidates = [IdleSourceCandidate(s.name, functools.partial(lambda s: s, s)) for s in sources]
    kwargs.setdefault("verify_interval_s", 0.001)
    controller = LockController(
        sink,
        POLICY,
        idle_candidates=candidates,
        lock_chain=LockChain(lockers, [StateCheck(state)]),
        notifier=notifier,
        clock=clock,
        wall_clock=lambda: 1_700_000_000.0,
        **kwargs,
    )
    return controller, sink, notifier, state


def run_for(controller, clock, seconds, on_step=None):
    """Step the controller, advancing the fake clock by the delay it asks for."""
    end = clock.now + seconds
    while clock.now < end:
        delay = controller.step()
        if on_step is not None:
            on_step()
        clock.advance(max(delay, 0.01))


def test_locks_at_timeout_after_one_warning_and_reports_lateness():
    clock = FakeClock()
    source = FakeIdleSource("x11-screensaver", clock)
    controller, sink, notifier, _ = make(clock, [source])
    run_for(controller, clock, 70)
    assert len(notifier.warnings) == 1 and notifier.warnings[0] == pytest.approx(10, abs=1.0)
    [body] = sink.of("lock_enforced")
    assert body["method"] == "command"
    assert body["idle_timeout_s"] == 60
    assert body["lateness_s"] < 1.0
    assert controller.state is State.LOCKED
    assert controller.last_lock_at is not None and controller.last_lock_at.year == 2023
    assert sink.of("coverage_degraded") == []


class SettlingLocker(FakeLocker):
    """Locks at once, then (like CommandLocker waiting out its settle time) returns 0.2 s later."""

    def __init__(self, state: dict[str, bool], clock: FakeClock) -> None:
        super().__init__("command", state)
        self._clock = clock

    def lock(self) -> None:
        super().lock()
        self._clock.advance(0.2)


def test_lateness_is_measured_to_when_the_locker_was_asked():
    clock = FakeClock()
    source = FakeIdleSource("x11-screensaver", clock)
    state = {"locked": False}
    controller, sink, _, _ = make(clock, [source], lockers=[SettlingLocker(state, clock)], state=state)
    run_for(controller, clock, 70)
    [body] = sink.of("lock_enforced")
    assert body["lateness_s"] < 0.02  # the controller steps exactly at the deadline; the settle is not lateness


def test_activity_every_second_never_locks():
    clock = FakeClock()
    source = FakeIdleSource("x11-screensaver", clock)
    controller, sink, notifier, _ = make(clock, [source])
    last = [clock.now]

    def jiggle():
        if clock.now - last[0] >= 1.0:
            source.touch()
            last[0] = clock.now

    run_for(controller, clock, 200, on_step=jiggle)
    assert sink.events == [] and notifier.warnings == []


def test_input_during_warning_cancels_lock():
    clock = FakeClock()
    source = FakeIdleSource("x11-screensaver", clock)
    controller, sink, *_ = make(clock, [source])
    run_for(controller, clock, 55)
    assert controller.state is State.WARNING
    source.touch()
    run_for(controller, clock, 20)
    assert controller.state is State.ACTIVE
    assert sink.of("lock_enforced") == []


def test_already_locked_session_is_recorded_not_relocked():
    clock = FakeClock()
    source = FakeIdleSource("x11-screensaver", clock)
    state = {"locked": True}
    locker = FakeLocker("command", state)
    controller, sink, _, _ = make(clock, [source], lockers=[locker], state=state)
    run_for(controller, clock, 65)
    assert locker.calls == 0
    assert [b["method"] for b in sink.of("lock_enforced")] == [ALREADY_LOCKED]


def test_falls_through_lockers_and_reports_lock_failed():
    clock = FakeClock()
    source = FakeIdleSource("x11-screensaver", clock)
    state = {"locked": False}
    lockers = [
        FakeLocker("command", state, works=False),
        FakeLocker("loginctl", state, takes=False),  # accepted but nobody listens
        FakeLocker("xdg-screensaver", state, works=False),
    ]
    controller, sink, _, _ = make(clock, [source], lockers=lockers, state=state, verify_timeout_s=0.01)
    run_for(controller, clock, 65)
    [body] = sink.of("lock_failed")
    assert body["methods_tried"] == ["command", "loginctl", "xdg-screensaver"]
    assert "loginctl" in body["reason"]
    assert controller.state is State.FAILED


def test_second_locker_used_when_first_is_not_confirmed():
    clock = FakeClock()
    source = FakeIdleSource("x11-screensaver", clock)
    state = {"locked": False}
    lockers = [FakeLocker("loginctl", state, takes=False), FakeLocker("dbus-freedesktop", state)]
    controller, sink, _, _ = make(clock, [source], lockers=lockers, state=state, verify_timeout_s=0.01)
    run_for(controller, clock, 65)
    assert [b["method"] for b in sink.of("lock_enforced")] == ["dbus-freedesktop"]


def test_lost_clock_degrades_falls_back_and_recovers():
    clock = FakeClock()
    x11 = FakeIdleSource("x11-screensaver", clock)
    logind = FakeIdleSource("logind-idlehint", clock)
    changes = []
    controller, sink, _, _ = make(clock, [x11, logind], on_change=lambda: changes.append(1), recover_after_s=5)
    run_for(controller, clock, 5)
    assert controller.idle_source_name == "x11-screensaver"
    x11.lose("x-server-gone")
    run_for(controller, clock, 10)
    degraded = sink.of("coverage_degraded")
    assert degraded[0] == {
        "component": "idle-clock",
        "reason": "x-server-gone",
        "recovered": False,
        "scope": "x11-screensaver",
    }
    assert degraded[1]["recovered"] is True and degraded[1]["scope"] == "logind-idlehint"
    assert len(degraded) == 2
    assert x11.closed
    assert controller.idle_source_name == "logind-idlehint"
    assert changes  # posture was poked


def test_no_clock_at_all_reports_once_backs_off_and_keeps_stepping():
    clock = FakeClock()

    attempts = []

    def broken():
        attempts.append(clock.now)
        raise IdleClockLost("no-x-display")

    sink = RecordingSink()
    controller = LockController(
        sink,
        POLICY,
        idle_candidates=[IdleSourceCandidate("x11-screensaver", broken)],
        lock_chain=LockChain([], []),
        notifier=FakeNotifier(),
        clock=clock,
    )
    run_for(controller, clock, 60)
    assert sink.of("coverage_degraded") == [
        {"component": "idle-clock", "reason": "no-idle-clock", "recovered": False, "scope": ""}
    ]
    assert not controller.enforcement_active
    assert [round(t - attempts[0]) for t in attempts] == [0, 10, 30]  # backing off


def test_inhibitors_are_reported_through_on_change():
    clock = FakeClock()
    source = FakeIdleSource("x11-screensaver", clock)
    inhibitors = Inhibitors()
    inhibitors.current = ("Firefox",)
    changes = []
    controller, sink, _, _ = make(clock, [source], inhibitors=inhibitors, on_change=lambda: changes.append(1))
    run_for(controller, clock, 1)
    assert controller.inhibitors == ("Firefox",)
    assert len(changes) == 2  # clock opened, inhibitors changed
    run_for(controller, clock, 70)
    assert sink.of("lock_enforced")  # not allowed by policy: lock anyway


def test_thread_survives_a_broken_clock_and_stops_promptly():
    class Exploding:
        name = "exploding"

        def idle_seconds(self) -> float:
            raise ValueError("bug")

        def close(self) -> None:
            pass

    sink = RecordingSink()
    notifier = FakeNotifier()
    controller = LockController(
        sink,
        POLICY,
        idle_candidates=[IdleSourceCandidate("exploding", Exploding)],
        lock_chain=LockChain([], []),
        notifier=notifier,
        poll_interval_s=0.01,
    )
    controller.start()
    deadline = time.monotonic() + 5
    while not sink.of("coverage_degraded") and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert controller.is_alive()
    assert sink.of("coverage_degraded") == [
        {"component": "lock", "reason": "controller-error", "recovered": False, "scope": "lock-controller"}
    ]
    started = time.monotonic()
    controller.stop()
    assert not controller.is_alive()
    assert time.monotonic() - started < 2
    assert notifier.closed
    assert not [t for t in threading.enumerate() if t.name == "caseguard-lock"]


def test_an_active_person_is_read_every_few_seconds_yet_the_warning_and_lock_are_on_time():
    clock = FakeClock()
    source = FakeIdleSource("x11-screensaver", clock)
    controller, sink, notifier, _ = make(clock, [source], poll_interval_s=0.25, active_poll_s=2.0)
    readings: list[float] = []
    original = source.idle_seconds

    def counted() -> float:
        readings.append(clock.now)
        return original()

    source.idle_seconds = counted  # type: ignore[method-assign]
    # Busy for a minute (input every 5 s): about one reading every 2 s, not four a second.
    start = clock.now
    while clock.now < start + 60:
        if clock.now - source.last_input >= 5:
            source.touch()
        clock.advance(max(controller.step(), 0.01))
    assert 25 <= len(readings) <= 40, len(readings)
    assert not notifier.warnings and not sink.of("lock_enforced")
    # Then away: warned at 50 s idle and locked at 60 s, as punctually as with 0.25 s readings.
    source.touch()
    run_for(controller, clock, 70)
    assert notifier.warnings and notifier.warnings[0] == pytest.approx(10, abs=0.3)
    [body] = sink.of("lock_enforced")
    assert body["lateness_s"] < 0.3
    assert controller.last_lock_at is not None


def test_a_lockdown_wakes_a_controller_that_is_waiting_out_an_active_interval():
    state = {"locked": False}
    sink = RecordingSink()
    # An idle clock that always reads "just used", so the controller waits out its active interval.

    class Busy:
        name = "busy"

        def idle_seconds(self) -> float:
            return 0.0

        def close(self) -> None:
            pass

    controller = LockController(
        sink, POLICY, idle_candidates=[IdleSourceCandidate("busy", Busy)],
        lock_chain=LockChain([FakeLocker("command", state)], [StateCheck(state)]), notifier=FakeNotifier(),
        poll_interval_s=0.25, active_poll_s=30.0, verify_interval_s=0.001,
    )
    controller.start()
    try:
        time.sleep(0.5)  # it has read the clock and is now waiting (up to 30 s)
        asked = time.monotonic()
        controller.set_lockdown(True)
        deadline = asked + 5
        while not state["locked"] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert state["locked"], "the lockdown waited for the active interval"
        assert time.monotonic() - asked < 1.0
    finally:
        controller.stop()


def test_a_clock_that_jumps_is_still_read_every_poll_while_the_person_is_active():
    clock = FakeClock()
    source = FakeIdleSource("logind-idlehint", clock)  # turns idle all at once, after the desktop's delay
    controller, _, _, _ = make(clock, [source], poll_interval_s=0.25, active_poll_s=2.0)
    controller.step()
    assert controller.step() <= 0.25
    x11 = FakeIdleSource("x11-screensaver", clock)
    other, _, _, _ = make(clock, [x11], poll_interval_s=0.25, active_poll_s=2.0)
    other.step()
    assert other.step() == pytest.approx(2.0)
