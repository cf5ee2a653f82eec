"""Sign-in throttling: failed attempts counted per account name and per client address.

After ``per_user`` failures for one name, or ``per_address`` from one address, within
``window``, further attempts are refused until the oldest failure leaves the window. The
name need not exist, so the limiter says nothing about which accounts do. A successful
sign-in clears the name's count (not the address's). Counts live in memory: a restart
forgets them, which costs an attacker a restart of the collector to gain a few guesses.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.workflow.times import utc_now


@dataclass(frozen=True)
class LoginLimits:
    """How many failures are allowed, and over how long."""

    per_user: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


class LoginLimiter:
    """Counts failures in a sliding window; thread-safe."""

    def __init__(self, limits: LoginLimits = LoginLimits(), clock: Callable[[], datetime] = utc_now) -> None:
        self._limits = limits
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[datetime]] = {}
        self._lock = threading.Lock()

    def retry_after(self, name: str, address: str) -> timedelta | None:
        """None when an attempt may go ahead; otherwise how long until it may."""
        now = self._clock()
        with self._lock:
            waits = [
                self._wait(("user", name.strip().lower()), self._limits.per_user, now),
                self._wait(("address", address), self._limits.per_address, now),
            ]
        blocked = [w for w in waits if w is not None]
        return max(blocked) if blocked else None

    def failed(self, name: str, address: str) -> None:
        """Count a failed attempt against the name and the address."""
        now = self._clock()
        with self._lock:
            for key in (("user", name.strip().lower()), ("address", address)):
                self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 10_000:  # forget idle keys so the table cannot grow without bound
                self._prune(now)

    def succeeded(self, name: str) -> None:
        """A correct password: the name starts afresh."""
        with self._lock:
            self._failures.pop(("user", name.strip().lower()), None)

    def _wait(self, key: tuple[str, str], limit: int, now: datetime) -> timedelta | None:
        times = self._failures.get(key)
        if not times:
            return None
        while times and now - times[0] >= self._limits.window:
            times.popleft()
        if len(times) < limit:
            return None
        return times[0] + self._limits.window - now

    def _prune(self, now: datetime) -> None:
        for key in [k for k, t in self._failures.items() if not t or now - t[-1] >= self._limits.window]:
            del self._failures[key]
