"""Lockdown of a device reported lost (issue 15: "a lost device that checks in is locked").

The collector reports the device lost; the session locks at once, whatever the idle time,
every sign-in is met by a new lock, and the confirmation says it was the lockdown. IT
recording the device found ends it, and idle locking carries on as before.
"""

from __future__ import annotations

from agent.lock.policy import (
    ALREADY_LOCKED,
    LOCKDOWN_RECHECK_S,
    Emit,
    IdleSample,
    InputHappened,
    Lock,
    LockdownChanged,
    LockIssued,
    LockNotIssued,
    LockPolicy,
    PolicyConfig,
    State,
    Verified,
    Verify,
)

CFG = PolicyConfig(idle_timeout_s=300, warn_s=30, allow_inhibitors=False, retry_s=60)


def _locked_by_lockdown(p: LockPolicy, now: float = 100.0) -> Emit:
    p.handle(IdleSample(now - 1, 5.0))  # someone is using it: 5 s idle, nowhere near the timeout
    assert p.handle(LockdownChanged(now, True)) == [Lock()]
    assert p.handle(LockIssued(now + 0.1, "command")) == [Verify("command")]
    [emit] = p.handle(Verified(now + 0.3, True))
    assert isinstance(emit, Emit)
    return emit


def test_lockdown_locks_at_once_and_says_why():
    p = LockPolicy(CFG)
    emit = _locked_by_lockdown(p)
    assert p.state is State.LOCKED and emit.kind == "lock_enforced"
    assert emit.body["trigger"] == "lost_device" and emit.body["method"] == "command"
    assert emit.body["lateness_s"] == 0.1  # instruction to lock request, not from an idle deadline


def test_an_idle_lock_still_says_idle():
    p = LockPolicy(CFG)
    p.handle(IdleSample(0.0, 0.0))
    p.handle(IdleSample(300.0, 300.0))
    p.handle(LockIssued(300.1, "command"))
    [emit] = p.handle(Verified(300.2, True))
    assert isinstance(emit, Emit) and emit.body["trigger"] == "idle"


def test_a_sign_in_during_lockdown_is_met_by_a_new_lock_and_reported():
    p = LockPolicy(CFG)
    _locked_by_lockdown(p)
    # Someone types at the lock screen and gets in: the next sample sees input.
    assert p.handle(InputHappened(110.0)) == [Lock()]
    assert p.handle(LockIssued(110.1, "command")) == [Verify("command")]
    [emit] = p.handle(Verified(110.2, True))
    assert isinstance(emit, Emit) and emit.body["trigger"] == "lost_device"


def test_a_locked_session_is_rechecked_but_a_still_locked_one_is_not_reported_again():
    p = LockPolicy(CFG)
    _locked_by_lockdown(p)
    assert p.handle(IdleSample(100.5, 6.5)) == []  # no input, within the re-check interval: nothing
    later = 100.0 + LOCKDOWN_RECHECK_S + 0.2
    assert p.handle(IdleSample(later, 6.0 + later - 99.0)) == [Lock()]
    p.handle(LockIssued(101.5, ALREADY_LOCKED))
    assert p.handle(Verified(101.6, True)) == []  # still locked: no new lock_enforced
    assert p.state is State.LOCKED


def test_a_failed_lock_in_lockdown_is_retried_whatever_the_input():
    p = LockPolicy(CFG)
    p.handle(IdleSample(99.0, 1.0))
    p.handle(LockdownChanged(100.0, True))
    [failed] = p.handle(LockNotIssued(100.1, ("command",), "no locker"))
    assert isinstance(failed, Emit) and failed.kind == "lock_failed"
    assert p.handle(InputHappened(120.0)) == [] and p.state is State.FAILED  # input does not end it
    assert p.handle(IdleSample(160.2, 0.5)) == [Lock()]  # retry_s later


def test_lockdown_of_an_already_locked_session_is_confirmed_and_its_end_restores_idle_locking():
    p = LockPolicy(CFG)
    p.handle(IdleSample(0.0, 0.0))
    p.handle(IdleSample(300.0, 300.0))
    p.handle(LockIssued(300.1, "command"))
    p.handle(Verified(300.2, True))
    [emit] = p.handle(LockdownChanged(400.0, True))
    assert isinstance(emit, Emit) and emit.body["trigger"] == "lost_device"
    assert p.handle(LockdownChanged(500.0, False)) == []
    assert p.handle(InputHappened(510.0)) == [] and p.state is State.ACTIVE  # a sign-in is a sign-in again
    assert p.handle(IdleSample(520.0, 10.0)) == []


def test_the_same_lockdown_twice_changes_nothing():
    p = LockPolicy(CFG)
    _locked_by_lockdown(p)
    assert p.handle(LockdownChanged(105.0, True)) == []
