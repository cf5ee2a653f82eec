"""Per-key rate limits for calls an authenticated party can repeat at will."""

from __future__ import annotations

import threading
from collections import deque


class SlidingWindowLimit:
    """At most ``limit`` calls per key in any ``window_us``; the check and the count are one step."""

    def __init__(self, limit: int, window_us: int, max_keys: int = 100_000) -> None:
        self._limit = limit
        self._window = window_us
        self._max_keys = max_keys
        self._calls: dict[str, deque[int]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now_us: int) -> bool:
        """Count a call by ``key`` at ``now_us`` if it is within the limit; False (not counted) if not."""
        with self._lock:
            calls = self._calls.get(key)
            if calls is None:
                if len(self._calls) >= self._max_keys:
                    self._forget_idle(now_us)
                calls = self._calls[key] = deque()
            while calls and calls[0] <= now_us - self._window:
                calls.popleft()
            if len(calls) >= self._limit:
                return False
            calls.append(now_us)
            return True

    def _forget_idle(self, now_us: int) -> None:
        for key in [k for k, c in self._calls.items() if not c or c[-1] <= now_us - self._window]:
            del self._calls[key]
