"""Cookie sessions kept on the server, and the CSRF tokens that go with them.

The cookie holds a random 256-bit token; the store keeps only its SHA-256, so a copy of
the database signs nobody in. Each session has its own CSRF token, put in every form and
compared on every POST. Cookies are ``__Host-`` prefixed, Secure, HttpOnly and
SameSite=Strict: the console is only ever served over TLS (directly, or by a reverse
proxy in front of a loopback listener). A session ends after ``idle_timeout`` without a
request, after ``absolute_timeout`` in all, on sign-out, or when its account is disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from collector.store.console_base import ConsoleSession, ConsoleStore
from collector.workflow.times import to_us, utc_now

SESSION_COOKIE = "__Host-caseguard-session"
LOGIN_COOKIE = "__Host-caseguard-login"  # the sign-in form's CSRF token, before there is a session
CSRF_FIELD = "csrf_token"


def new_token() -> str:
    """A random URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the store keeps for a session token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; False when either is missing."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8", "replace"), given.encode("utf-8", "replace"))


def cookie_options(max_age: int | None = None) -> dict[str, Any]:
    """Attributes of every console cookie (Starlette ``set_cookie`` keywords)."""
    return {"max_age": max_age, "path": "/", "secure": True, "httponly": True, "samesite": "strict"}


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions last, and how often activity is written back."""

    idle_timeout: timedelta = timedelta(minutes=30)
    absolute_timeout: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)


class Sessions:
    """Start, find, flash and end sessions over the console store."""

    def __init__(
        self, store: ConsoleStore, policy: SessionPolicy = SessionPolicy(), clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock

    def start(self, user_name: str) -> tuple[str, ConsoleSession]:
        """A new session for ``user_name``: (the cookie's token, the stored session)."""
        token = new_token()
        now = to_us(self._clock())
        session = ConsoleSession(token_hash(token), user_name, new_token(), now, now)
        self._store.create_session(session)
        return token, session

    def find(self, token: str | None) -> ConsoleSession | None:
        """The live session for a cookie token; expired ones are deleted and give None."""
        if not token or len(token) > 200:
            return None
        session = self._store.get_session(token_hash(token))
        if session is None:
            return None
        now = self._clock()
        now_us = to_us(now)
        idle_us = to_us(now - self._policy.idle_timeout)
        if session.created_at_us < to_us(now - self._policy.absolute_timeout) or session.last_seen_at_us < idle_us:
            self._store.delete_session(session.token_hash)
            return None
        if now_us - session.last_seen_at_us >= self._policy.touch_every.total_seconds() * 1_000_000:
            self._store.touch_session(session.token_hash, now_us)
        return session

    def end(self, session: ConsoleSession) -> None:
        """Sign out."""
        self._store.delete_session(session.token_hash)

    def expire_old(self) -> int:
        """Delete every session past its timeouts; how many."""
        now = self._clock()
        return self._store.delete_sessions_before(
            to_us(now - self._policy.absolute_timeout), to_us(now - self._policy.idle_timeout)
        )

    def flash(self, session: ConsoleSession, level: str, text: str, **extra: str) -> None:
        """Leave a message for the session's next page."""
        self._store.set_flash(session.token_hash, json.dumps({"level": level, "text": text, **extra}))

    def pop_flash(self, session: ConsoleSession) -> dict[str, str] | None:
        """The waiting message, removed; None when there is none."""
        if not session.flash:
            return None
        self._store.set_flash(session.token_hash, None)
        try:
            value = json.loads(session.flash)
        except ValueError:
            return None
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else None
