"""What the web console keeps, and the interface every console storage backend implements.

The console owns six things: accounts (name, role, argon2 hash, disabled or not), sign-in
throttle counters (keyed by SHA-256 digests, not names or addresses in plain text; a digest of
an IPv4 address can be reversed by trying them all, so idle counters are forgotten after the
throttle's window, and those marking a trusted address after 30 days), sessions (only a
SHA-256 of each session token is stored, with its CSRF token and a one-shot flash message),
which staff own which devices (for the self-report page), who each incident is assigned to,
and officers' internal notes on incidents. It also reads the events table for one thing: a
device's posture events as they stood at a moment (the incident page shows posture "at the
time", not now).

Accounts and notes are personal data; none of it is ever logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from collector.domain.sign_in_throttle import ThrottleKey, ThrottlePolicy, Verdict
from collector.store.base import StoredEvent, StoreError


class ConsoleStoreError(StoreError):
    """A console storage operation failed or was refused."""


class UnknownUser(ConsoleStoreError):
    """No console account of that name."""


class UserExists(ConsoleStoreError):
    """A console account of that name already exists."""


@dataclass(frozen=True)
class ConsoleUser:
    """A console account. ``password_hash`` is an argon2 PHC string; never shown or logged."""

    name: str
    role: str
    password_hash: str
    created_at_us: int
    disabled_at_us: int | None = None
    last_login_at_us: int | None = None

    @property
    def active(self) -> bool:
        """True unless the account was disabled."""
        return self.disabled_at_us is None


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in browser. ``token_hash`` is SHA-256 of the cookie's token (the token itself is not kept)."""

    token_hash: str
    user_name: str
    csrf_token: str
    created_at_us: int
    last_seen_at_us: int
    flash: str | None = None


@dataclass(frozen=True)
class Assignment:
    """Who an incident is assigned to, since when, and who assigned it."""

    incident_id: str
    user_name: str
    assigned_at_us: int
    assigned_by: str


@dataclass(frozen=True)
class IncidentNote:
    """An officer's internal note on an incident (kept out of the ICO draft and the audit details)."""

    incident_id: str
    at_us: int
    by: str
    text: str


class ConsoleStore(Protocol):
    """Storage for the console; see collector/store/console.py."""

    # accounts
    def add_user(self, name: str, role: str, password_hash: str, at_us: int) -> None:
        """Create an account; raises ``UserExists``."""
        ...

    def get_user(self, name: str) -> ConsoleUser | None:
        """One account, or None."""
        ...

    def list_users(self) -> list[ConsoleUser]:
        """Every account, by name."""
        ...

    def set_password_hash(self, name: str, password_hash: str) -> None:
        """Replace an account's password hash (a new password, or a rehash with stronger parameters)."""
        ...

    def set_disabled(self, name: str, disabled_at_us: int | None) -> None:
        """Disable (a time) or re-enable (None) an account; disabling ends its sessions."""
        ...

    def replace_password(self, name: str, password_hash: str, keep_session: str | None = None) -> int:
        """A new password; every session of the account except ``keep_session`` (a token hash) ends; how many."""
        ...

    def record_login(self, name: str, at_us: int) -> None:
        """Remember the account's last successful sign-in."""
        ...

    # sessions
    def create_session(self, session: ConsoleSession) -> None:
        """Keep a new session."""
        ...

    def get_session(self, token_hash: str) -> ConsoleSession | None:
        """A session by its token hash, or None."""
        ...

    def touch_session(self, token_hash: str, at_us: int) -> None:
        """Record activity on a session (for the idle timeout)."""
        ...

    def set_flash(self, token_hash: str, flash: str | None) -> None:
        """Set (or clear) the one-shot message shown on the session's next page."""
        ...

    def delete_session(self, token_hash: str) -> None:
        """End one session."""
        ...

    def delete_sessions_before(self, created_before_us: int, idle_before_us: int) -> int:
        """End sessions created before the first bound or idle since the second; how many."""
        ...

    # sign-in throttle (collector.domain.sign_in_throttle)
    def throttle_attempt(self, keys: Sequence[ThrottleKey], now_us: int, policy: ThrottlePolicy) -> Verdict:
        """Count one password check atomically if the throttle allows it; else say how long to wait."""
        ...

    def throttle_success(self, keys: Sequence[ThrottleKey], now_us: int, policy: ThrottlePolicy) -> None:
        """The password checked was right: the counters start afresh."""
        ...

    def throttle_clear(self, account_hash: str) -> int:
        """Lift the waits on one account's counters; how many were counting."""
        ...

    def throttle_prune(self, idle_before_us: int, trusted_before_us: int) -> int:
        """Forget idle counters; how many."""
        ...

    # devices and their owners
    def assign_owner(self, device: str, user_name: str, at_us: int) -> None:
        """Link a staff account to a device it may report lost; raises ``UnknownUser`` or ``ConsoleStoreError``."""
        ...

    def remove_owner(self, device: str, user_name: str) -> bool:
        """Unlink an owner; False when there was no such link."""
        ...

    def devices_of(self, user_name: str) -> list[str]:
        """The devices an account owns, by name."""
        ...

    def owners(self) -> dict[str, list[str]]:
        """Every device's owners (device -> account names)."""
        ...

    def posture_events_at(self, device: str, kinds: Sequence[str], at_us: int) -> dict[str, StoredEvent]:
        """The device's newest event of each of ``kinds`` received at or before ``at_us``."""
        ...

    # incidents
    def assign_incident(self, incident_id: str, user_name: str, by: str, at_us: int) -> None:
        """Assign an incident (replacing any earlier assignment)."""
        ...

    def unassign_incident(self, incident_id: str) -> bool:
        """Remove an incident's assignment; False when it had none."""
        ...

    def assignments(self) -> dict[str, Assignment]:
        """Every current assignment, by incident id."""
        ...

    def add_note(self, note: IncidentNote) -> None:
        """Keep an internal note on an incident."""
        ...

    def notes(self, incident_id: str) -> list[IncidentNote]:
        """An incident's notes, oldest first."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def open_console_store(data_dir: Path, database_url: str | None = None) -> ConsoleStore:
    """The console's store, in the same database as the events and the workflow (PostgreSQL: a migrated schema)."""
    if database_url and not database_url.startswith(("postgresql://", "postgres://")):
        raise ConsoleStoreError("--database-url must be a postgresql:// URL")
    from collector.store.console import PostgresConsoleStore, SQLiteConsoleStore
    from collector.store.factory import SQLITE_FILE

    if database_url:
        return PostgresConsoleStore(database_url)
    return SQLiteConsoleStore(data_dir / SQLITE_FILE)
