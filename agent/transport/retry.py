"""Retry rules as data: what the sender does for each gRPC status, and how long it waits."""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc


class Action(enum.Enum):
    """What to do after a failed delivery."""

    BACKOFF = "backoff"  # transient: retry with exponential backoff
    SHRINK = "shrink"  # the batch was too big: halve it and retry at once
    HOLD = "hold"  # the collector refuses us (revoked, bad certificate): keep events, retry slowly
    # Over a device limit (a retry-after came with RESOURCE_EXHAUSTED): keep routine events
    # until then, and meanwhile send breach-class ones only (the collector never refuses those).
    THROTTLED = "throttled"


RULES: Mapping[grpc.StatusCode, Action] = {
    grpc.StatusCode.UNAVAILABLE: Action.BACKOFF,
    grpc.StatusCode.DEADLINE_EXCEEDED: Action.BACKOFF,
    grpc.StatusCode.ABORTED: Action.BACKOFF,
    grpc.StatusCode.INTERNAL: Action.BACKOFF,
    grpc.StatusCode.UNKNOWN: Action.BACKOFF,
    grpc.StatusCode.CANCELLED: Action.BACKOFF,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Action.SHRINK,
    grpc.StatusCode.INVALID_ARGUMENT: Action.SHRINK,
    grpc.StatusCode.PERMISSION_DENIED: Action.HOLD,
    grpc.StatusCode.UNAUTHENTICATED: Action.HOLD,
}
DEFAULT_ACTION = Action.BACKOFF


def action_for(code: grpc.StatusCode, retry_after_s: float | None = None) -> Action:
    """The rule for ``code``; unknown codes back off (never drop events).

    A RESOURCE_EXHAUSTED that carries a retry-after is the collector throttling this device,
    not a message too big: THROTTLED, not SHRINK.
    """
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and retry_after_s is not None:
        return Action.THROTTLED
    return RULES.get(code, DEFAULT_ACTION)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with proportional jitter: initial * multiplier**attempt, capped."""

    initial_s: float = 0.5
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        base = min(self.max_s, self.initial_s * self.multiplier ** min(attempt, 64))
        spread = base * self.jitter
        return max(0.0, base - spread + 2 * spread * rand())
