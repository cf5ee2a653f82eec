"""Per-device ingest limits: a rate limit and a storage quota, never against breach-class events.

One laptop sending far more than any laptop does (a bug, a loop, a hostile client with a
stolen certificate) must not fill the database or take the writer's time from everyone else.
Each device gets

- a **rate limit**: a token bucket of ``events_per_minute`` tokens, refilled continuously.
  A batch is admitted while the bucket holds any token at all, and then takes one token per
  event, so a single batch larger than the bucket still passes once (the device then waits
  off its debt); and
- a **storage quota**: ``bytes_stored`` bytes of event bodies kept for the device (counted by
  the store, in the ingest transaction, so every collector sharing a database sees it).

Over either limit, the batch's routine events are refused with the limit's name and a
retry-after; its breach-class events (``NEVER_REFUSED_KINDS``) are still stored, and
counted. This module is pure: the clock is passed in and the store's figure is an argument.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

# The agent's critical delivery class (agent/events.py), which its outbox never drops either:
# breach-class signals, lost devices, failed locks, lost coverage, files or devices it cannot
# inspect, and shed reports.
NEVER_REFUSED_KINDS: frozenset[str] = frozenset({
    "case_file_egress", "case_files_found", "lock_failed", "lost_device_report",
    "coverage_degraded", "uninspectable_file", "uninspectable_destination", "events_shed",
})

RATE_SETTING = "[limits] device_events_per_minute"
STORAGE_SETTING = "[limits] device_bytes_stored"
# Stored bytes do not drain by themselves: a device over its quota retries hourly until an
# operator raises the quota or removes the device's old events.
STORAGE_RETRY_AFTER_S = 3600


@dataclass(frozen=True)
class DeviceLimits:
    """One device's allowance; 0 switches a limit off.

    The defaults are far above any real laptop's traffic (an agent sends tens to hundreds of
    events a day, a few kilobytes each) and still stop a runaway device within minutes.
    """

    events_per_minute: int = 60_000
    bytes_stored: int = 1024 * 1024 * 1024


@dataclass(frozen=True)
class Throttled:
    """The routine events of a batch were refused: which limit, and when to try again."""

    limit: str  # "rate" or "storage"
    setting: str
    retry_after_s: int
    message: str


class _Kinded(Protocol):
    @property
    def kind(self) -> str: ...


K = TypeVar("K", bound=_Kinded)


def split_by_class(events: Sequence[K]) -> tuple[list[K], list[K]]:
    """(breach-class events, routine events) of a batch, each in batch order."""
    critical = [e for e in events if e.kind in NEVER_REFUSED_KINDS]
    routine = [e for e in events if e.kind not in NEVER_REFUSED_KINDS]
    return critical, routine


class DeviceQuota:
    """The rate buckets of every device this collector serves, and the storage check.

    Buckets live in this process: each collector sharing a database limits what it receives
    (an agent talks to one collector at a time). Thread-safe; a check and its count are one step.
    """

    def __init__(self, limits: DeviceLimits = DeviceLimits(), max_devices: int = 200_000) -> None:
        self.limits = limits
        self._rate = limits.events_per_minute / 60.0  # tokens per second
        self._max_devices = max_devices
        self._buckets: dict[str, tuple[float, float]] = {}  # device -> (tokens, at monotonic s)
        self._lock = threading.Lock()

    def check(
        self, device: str, routine: int, critical: int, stored_bytes: int, incoming_bytes: int, now_s: float
    ) -> Throttled | None:
        """Count a batch of ``routine`` + ``critical`` events; a ``Throttled`` if its routine ones are refused.

        ``stored_bytes`` is what the store holds for the device now; ``incoming_bytes`` the
        routine events' bodies. Breach-class events always take tokens but are never refused.
        """
        limits = self.limits
        if routine and limits.bytes_stored and stored_bytes + incoming_bytes > limits.bytes_stored:
            self._take(device, critical, now_s)
            return Throttled(
                "storage", STORAGE_SETTING, STORAGE_RETRY_AFTER_S,
                f"device storage quota exceeded: {stored_bytes} bytes stored for this device, at most "
                f"{limits.bytes_stored} ({STORAGE_SETTING}); routine events are held, retry after "
                f"{STORAGE_RETRY_AFTER_S} s (breach-class events are still accepted)",
            )
        if not limits.events_per_minute:
            return None
        with self._lock:
            tokens = self._refilled(device, now_s)
            if routine and tokens <= 0:
                self._buckets[device] = (tokens - critical, now_s)
                wait = max(1, math.ceil((1 - (tokens - critical)) / self._rate))
                return Throttled(
                    "rate", RATE_SETTING, wait,
                    f"device rate limit exceeded: more than {limits.events_per_minute} events a minute "
                    f"({RATE_SETTING}); routine events are held, retry after {wait} s "
                    "(breach-class events are still accepted)",
                )
            self._buckets[device] = (tokens - routine - critical, now_s)
        return None

    def _take(self, device: str, events: int, now_s: float) -> None:
        if not self.limits.events_per_minute or not events:
            return
        with self._lock:
            self._buckets[device] = (self._refilled(device, now_s) - events, now_s)

    def _refilled(self, device: str, now_s: float) -> float:
        """The device's tokens at ``now_s`` (caller holds the lock)."""
        capacity = float(self.limits.events_per_minute)
        held = self._buckets.get(device)
        if held is None:
            if len(self._buckets) >= self._max_devices:
                self._forget_full(now_s)
            return capacity
        tokens, at = held
        return min(capacity, tokens + max(0.0, now_s - at) * self._rate)

    def _forget_full(self, now_s: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        capacity = float(self.limits.events_per_minute)
        for device in [d for d, (t, at) in self._buckets.items() if t + (now_s - at) * self._rate >= capacity]:
            del self._buckets[device]
