"""Sign-in throttling per account name and per address, on an injected clock."""

from __future__ import annotations

from datetime import timedelta

from collector.console.ratelimit import LoginLimiter, LoginLimits
from tests.unit.workflow.helpers import Clock


def test_five_failures_lock_the_name_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(LoginLimits(per_user=5, per_address=100, window=timedelta(minutes=15)), clock)
    for _ in range(5):
        assert limiter.retry_after("ig.officer", "10.0.0.1") is None
        limiter.failed("ig.officer", "10.0.0.1")
        clock.advance(minutes=1)
    wait = limiter.retry_after("IG.Officer ", "10.0.0.2")  # any address, any spelling of the name
    assert wait == timedelta(minutes=10)
    assert limiter.retry_after("someone.else", "10.0.0.1") is None
    clock.advance(minutes=9)
    assert limiter.retry_after("ig.officer", "10.0.0.1") is not None
    clock.advance(minutes=1)
    assert limiter.retry_after("ig.officer", "10.0.0.1") is None


def test_an_address_trying_many_names_is_stopped() -> None:
    clock = Clock()
    limiter = LoginLimiter(LoginLimits(per_user=5, per_address=3), clock)
    for name in ("a", "b", "c"):
        limiter.failed(name, "192.0.2.9")
    assert limiter.retry_after("d", "192.0.2.9") is not None
    assert limiter.retry_after("d", "192.0.2.10") is None


def test_success_clears_the_name_but_not_the_address() -> None:
    clock = Clock()
    limiter = LoginLimiter(LoginLimits(per_user=2, per_address=3), clock)
    limiter.failed("staff", "192.0.2.1")
    limiter.failed("staff", "192.0.2.1")
    assert limiter.retry_after("staff", "192.0.2.2") is not None
    limiter.succeeded("staff")
    assert limiter.retry_after("staff", "192.0.2.2") is None
    limiter.failed("other", "192.0.2.1")
    assert limiter.retry_after("new", "192.0.2.1") is not None
