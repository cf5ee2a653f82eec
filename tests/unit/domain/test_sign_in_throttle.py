"""The sign-in throttle's rules, fed states directly (no store, no clock)."""

from __future__ import annotations

from datetime import timedelta

from collector.domain.sign_in_throttle import (
    Scope,
    ThrottlePolicy,
    ThrottleState,
    after_success,
    decide,
    keys_for,
)

S = 1_000_000
POLICY = ThrottlePolicy()


def _run(states: dict[str, ThrottleState | None], name: str, address: str, now_us: int) -> bool:
    keys = keys_for(name, address)
    verdict = decide(keys, states, now_us, POLICY)
    if verdict.allowed:
        states.update(verdict.states)
    return verdict.allowed


def test_five_free_attempts_then_waits_that_double() -> None:
    states: dict[str, ThrottleState | None] = {}
    assert all(_run(states, "ig.officer", "192.0.2.1", 0) for _ in range(5))
    assert not _run(states, "ig.officer", "192.0.2.1", 1 * S)
    verdict = decide(keys_for("ig.officer", "192.0.2.1"), states, 1 * S, POLICY)
    assert verdict.retry_after == timedelta(seconds=29) and verdict.limited_by is Scope.ACCOUNT_ADDRESS
    assert _run(states, "ig.officer", "192.0.2.1", 30 * S)
    assert not _run(states, "ig.officer", "192.0.2.1", 89 * S)  # now a minute
    assert _run(states, "ig.officer", "192.0.2.1", 90 * S)


def test_a_guesser_elsewhere_does_not_stop_the_account_from_its_own_address() -> None:
    states: dict[str, ThrottleState | None] = {}
    for _ in range(5):
        _run(states, "ig.officer", "198.51.100.7", 0)
    assert not _run(states, "ig.officer", "198.51.100.7", S)
    assert _run(states, "IG.Officer ", "192.0.2.1", S)  # same account, its own address


def test_many_addresses_meet_the_account_ceiling_but_a_trusted_address_passes() -> None:
    states: dict[str, ThrottleState | None] = {}
    keys = keys_for("ig.officer", "192.0.2.1")
    assert _run(states, "ig.officer", "192.0.2.1", 0)
    states.update(after_success(keys, states, 0, POLICY))
    allowed = sum(_run(states, "ig.officer", f"10.0.{n // 250}.{n % 250}", S) for n in range(200))
    assert allowed == POLICY.account.free
    assert not _run(states, "ig.officer", "203.0.113.9", S)  # a new address waits for the account's ceiling
    assert _run(states, "ig.officer", "192.0.2.1", S)  # the officer's usual address does not


def test_a_key_left_alone_for_a_window_starts_afresh() -> None:
    states: dict[str, ThrottleState | None] = {}
    for _ in range(5):
        _run(states, "a", "192.0.2.1", 0)
    window = int(POLICY.window.total_seconds()) * S
    assert not _run(states, "a", "192.0.2.1", 10 * S)
    assert all(_run(states, "a", "192.0.2.1", 30 * S + window + n) for n in range(5))


def test_a_guesser_at_the_cap_never_starts_afresh() -> None:
    states: dict[str, ThrottleState | None] = {}
    now, allowed = 0, 0
    for _ in range(200):  # try every second for a long time
        allowed += _run(states, "a", "192.0.2.1", now)
        now += S
    assert allowed <= 5 + 6  # free ones, then 30 s, 1, 2 min ...: nothing like one a second
