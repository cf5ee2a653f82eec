"""Sign-in throttling over the store: every password check is asked for before it is made.

The rules (free attempts, then doubling waits) are ``collector.domain.sign_in_throttle``; the
counters live in the database (``console_throttle``), so a restart does not reset them and every
collector sharing a database enforces the same limits. ``attempt`` counts the check in one
transaction before the password is looked at, so parallel guesses cannot slip past the limit.
The name need not exist: counters are kept for any name, so a refusal says nothing about which
accounts do. Names and addresses are stored only as SHA-256 digests (not secret: a digest of an IPv4
address can be reversed by trying every address, which is why idle counters are pruned), and
are never logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from collector.domain.sign_in_throttle import ThrottlePolicy, account_hash, keys_for
from collector.store.console_base import ConsoleStore
from collector.workflow.times import to_us, utc_now

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(minutes=5)
DEFAULT_POLICY = ThrottlePolicy()


class LoginThrottle:
    """Asks the store whether a password may be checked, and tells it how the check went."""

    def __init__(
        self,
        store: ConsoleStore,
        policy: ThrottlePolicy = DEFAULT_POLICY,
        clock: Callable[[], datetime] = utc_now,
        on_throttled: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self.policy = policy
        self._clock = clock
        self._on_throttled = on_throttled
        self._pruned_at: datetime | None = None
        self._prune_lock = threading.Lock()

    def attempt(self, name: str, address: str) -> timedelta | None:
        """None: the password may be checked now (the check is already counted). Otherwise the wait."""
        now = self._clock()
        self._prune(now)
        verdict = self._store.throttle_attempt(keys_for(name, address), to_us(now), self.policy)
        if verdict.allowed:
            return None
        self._on_throttled()
        log.warning(
            "console password check refused by the throttle (%s)",
            verdict.limited_by.value if verdict.limited_by else "?",
        )
        return max(verdict.retry_after, timedelta(seconds=1))

    def succeeded(self, name: str, address: str) -> None:
        """The password was right: this account from this address starts afresh."""
        self._store.throttle_success(keys_for(name, address), to_us(self._clock()), self.policy)

    def unlock(self, name: str) -> int:
        """Lift every wait on ``name`` (``users unlock``); how many counters were counting."""
        return self._store.throttle_clear(account_hash(name))

    def _prune(self, now: datetime) -> None:
        """Forget idle counters now and then, so guessed names cannot grow the table without bound."""
        with self._prune_lock:
            if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
                return
            self._pruned_at = now
        self._store.throttle_prune(to_us(now - self.policy.window), to_us(now - self.policy.trusted_for))


def retry_text(wait: timedelta) -> str:
    """``wait`` for a person: seconds under two minutes, else minutes (rounded up)."""
    seconds = max(1, int(-(-wait.total_seconds() // 1)))
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{-(-seconds // 60)} minutes"
