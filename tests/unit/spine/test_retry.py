"""Retry rules and backoff."""

from __future__ import annotations

import grpc
from hypothesis import given
from hypothesis import strategies as st

from agent.transport.client import MAX_RETRY_AFTER_S, retry_after
from agent.transport.retry import Action, Backoff, action_for


def test_transient_statuses_back_off_and_refusals_hold() -> None:
    assert action_for(grpc.StatusCode.UNAVAILABLE) is Action.BACKOFF
    assert action_for(grpc.StatusCode.DEADLINE_EXCEEDED) is Action.BACKOFF
    assert action_for(grpc.StatusCode.RESOURCE_EXHAUSTED) is Action.SHRINK
    assert action_for(grpc.StatusCode.PERMISSION_DENIED) is Action.HOLD
    assert action_for(grpc.StatusCode.DATA_LOSS) is Action.BACKOFF  # unknown to the table: never drop


@given(st.integers(min_value=0, max_value=200), st.floats(min_value=0, max_value=1))
def test_backoff_grows_but_stays_within_jittered_cap(attempt: int, r: float) -> None:
    b = Backoff(initial_s=0.5, max_s=30, multiplier=2, jitter=0.2)
    d = b.delay(attempt, rand=lambda: r)
    base = min(30, 0.5 * 2**attempt)
    assert base * 0.8 - 1e-9 <= d <= base * 1.2 + 1e-9


def test_backoff_doubles_until_the_cap() -> None:
    b = Backoff(initial_s=1, max_s=8, multiplier=2, jitter=0)
    assert [b.delay(i) for i in range(6)] == [1, 2, 4, 8, 8, 8]


def test_resource_exhausted_with_a_retry_after_is_a_throttle_not_a_shrink() -> None:
    assert action_for(grpc.StatusCode.RESOURCE_EXHAUSTED, retry_after_s=30.0) is Action.THROTTLED
    assert action_for(grpc.StatusCode.RESOURCE_EXHAUSTED, None) is Action.SHRINK
    assert action_for(grpc.StatusCode.UNAVAILABLE, retry_after_s=30.0) is Action.BACKOFF


def test_the_retry_after_is_read_from_trailing_metadata_and_bounded() -> None:
    assert retry_after((("caseguard-retry-after-s", "241"),)) == 241.0
    assert retry_after((("caseguard-retry-after-s", "0"),)) == 1.0
    assert retry_after((("caseguard-retry-after-s", "99999999"),)) == MAX_RETRY_AFTER_S
    assert retry_after((("caseguard-retry-after-s", "soon"),)) is None
    assert retry_after((("other", "5"),)) is None and retry_after(None) is None
