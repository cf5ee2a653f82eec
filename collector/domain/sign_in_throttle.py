"""How many password checks a sign-in may have, and how long it must wait: pure, no I/O.

Every password check is counted against up to three keys before the password is looked at
(a reservation, so parallel guesses cannot all slip through between a read and a write):

- the account from this address: a few free attempts, then a wait that doubles with each
  further attempt, up to a cap. This is the limit a guesser meets first;
- the address, whatever the account: more free attempts (an office behind one address), the
  same doubling;
- the account from anywhere: a high ceiling with short, capped waits, so guessers spread
  over many addresses still get few guesses, while no guesser can lock the account. An
  address the account has signed in from recently is trusted past this ceiling.

A key starts afresh once it has been left alone for a whole ``window`` after it was free to
try again. With the defaults one account from one address gets at most 5 + 5 checks in the
first 15 minutes (free ones, then 30 s, 1, 2, 4 and 8 minutes) and then one every 15
minutes; it never gets a hard lock that only IT could lift. A successful sign-in clears the
account-and-address key, gives back the attempt it reserved on the other two, and marks the
address trusted for the account.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum

_US = 1_000_000


class Scope(StrEnum):
    """What a throttle key counts."""

    ACCOUNT_ADDRESS = "account_address"
    ADDRESS = "address"
    ACCOUNT = "account"


@dataclass(frozen=True)
class Rule:
    """``free`` attempts, then a wait of ``first_wait`` that doubles per attempt, at most ``max_wait``."""

    free: int
    first_wait: timedelta
    max_wait: timedelta

    def wait_after(self, attempts: int) -> timedelta:
        """The wait imposed once ``attempts`` attempts have been counted (zero while they are free)."""
        if attempts < self.free:
            return timedelta(0)
        doublings = min(attempts - self.free, 30)
        longer: timedelta = self.first_wait * (2**doublings)
        return min(longer, self.max_wait)


@dataclass(frozen=True)
class ThrottlePolicy:
    """The three rules, the quiet time after which a key starts afresh, and how long a good address is trusted."""

    account_address: Rule = Rule(5, timedelta(seconds=30), timedelta(minutes=15))
    address: Rule = Rule(30, timedelta(seconds=30), timedelta(minutes=15))
    account: Rule = Rule(50, timedelta(seconds=5), timedelta(minutes=1))
    window: timedelta = timedelta(minutes=15)
    trusted_for: timedelta = timedelta(days=30)

    def rule(self, scope: Scope) -> Rule:
        """The rule for ``scope``."""
        return {Scope.ACCOUNT_ADDRESS: self.account_address, Scope.ADDRESS: self.address, Scope.ACCOUNT: self.account}[
            scope
        ]


@dataclass(frozen=True)
class ThrottleKey:
    """One counter: its stored key (a SHA-256, so the store holds no address) and its account's hash."""

    scope: Scope
    key: str
    account_hash: str | None


@dataclass(frozen=True)
class ThrottleState:
    """A counter as stored: attempts counted, the last one, when the next may go ahead, last success."""

    attempts: int = 0
    last_at_us: int = 0
    next_at_us: int = 0
    succeeded_at_us: int | None = None


@dataclass(frozen=True)
class Verdict:
    """The outcome of asking for one password check: allowed (with the states to store) or a wait."""

    allowed: bool
    retry_after: timedelta = timedelta(0)
    states: Mapping[str, ThrottleState] = field(default_factory=dict)
    limited_by: Scope | None = None


def normal_name(name: str) -> str:
    """The account name as counted (sign-in ignores case and surrounding spaces)."""
    return name.strip().lower()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()


def account_hash(name: str) -> str:
    """How the store names an account's counters (``users unlock`` finds them by this)."""
    return _digest("account", normal_name(name))


def keys_for(name: str, address: str) -> tuple[ThrottleKey, ThrottleKey, ThrottleKey]:
    """The three counters one sign-in attempt is counted against, in the order they are locked."""
    owner = account_hash(name)
    account_address = ThrottleKey(Scope.ACCOUNT_ADDRESS, _digest("account_address", normal_name(name), address), owner)
    by_address = ThrottleKey(Scope.ADDRESS, _digest("address", address), None)
    by_account = ThrottleKey(Scope.ACCOUNT, owner, owner)
    return tuple(sorted((account_address, by_address, by_account), key=lambda k: k.key))  # type: ignore[return-value]


def _fresh(state: ThrottleState | None, now_us: int, policy: ThrottlePolicy) -> ThrottleState:
    """The state as it counts now: a key idle for a window after it was free again starts afresh."""
    if state is None:
        return ThrottleState()
    quiet_since = max(state.last_at_us, state.next_at_us)
    if state.attempts and now_us - quiet_since >= policy.window.total_seconds() * _US:
        return replace(state, attempts=0, last_at_us=0, next_at_us=0)
    return state


def _trusted(state: ThrottleState, now_us: int, policy: ThrottlePolicy) -> bool:
    return (
        state.succeeded_at_us is not None and now_us - state.succeeded_at_us < policy.trusted_for.total_seconds() * _US
    )


def decide(
    keys: tuple[ThrottleKey, ...], stored: Mapping[str, ThrottleState | None], now_us: int, policy: ThrottlePolicy
) -> Verdict:
    """May a password be checked now? If so, the states with this attempt counted; if not, how long to wait."""
    states = {k.key: _fresh(stored.get(k.key), now_us, policy) for k in keys}
    pair = next(k for k in keys if k.scope is Scope.ACCOUNT_ADDRESS)
    trusted = _trusted(states[pair.key], now_us, policy)
    waits: list[tuple[int, Scope]] = []
    for k in keys:
        if k.scope is Scope.ACCOUNT and trusted:
            continue
        if states[k.key].next_at_us > now_us:
            waits.append((states[k.key].next_at_us - now_us, k.scope))
    if waits:
        wait_us, scope = max(waits, key=lambda w: w[0])
        return Verdict(False, timedelta(microseconds=wait_us), limited_by=scope)
    counted: dict[str, ThrottleState] = {}
    for k in keys:
        state = states[k.key]
        attempts = state.attempts + 1
        wait = policy.rule(k.scope).wait_after(attempts)
        next_at = now_us + int(wait.total_seconds() * _US) if wait else 0
        counted[k.key] = replace(state, attempts=attempts, last_at_us=now_us, next_at_us=next_at)
    return Verdict(True, states=counted)


def after_success(
    keys: tuple[ThrottleKey, ...], stored: Mapping[str, ThrottleState | None], now_us: int, policy: ThrottlePolicy
) -> dict[str, ThrottleState]:
    """The states after a correct password: this account from this address starts afresh (and is trusted);
    the address and the account get back the attempt reserved for it, and the wait that attempt caused."""
    result: dict[str, ThrottleState] = {}
    for k in keys:
        state = _fresh(stored.get(k.key), now_us, policy)
        if k.scope is Scope.ACCOUNT_ADDRESS:
            result[k.key] = ThrottleState(succeeded_at_us=now_us)
            continue
        attempts = max(state.attempts - 1, 0)
        wait = policy.rule(k.scope).wait_after(attempts)
        next_at = min(state.next_at_us, state.last_at_us + int(wait.total_seconds() * _US)) if wait else 0
        result[k.key] = replace(state, attempts=attempts, next_at_us=next_at)
    return result
