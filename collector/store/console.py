"""The console's storage, once for both databases (tables in ``collector.store.schema``).

Each write is one statement, or one short transaction. On PostgreSQL, where several collectors
share the database, those take row locks only; no console write waits on another's whole table
(on SQLite every write takes the file's one writer lock). Where several collectors could race:

- ``add_user`` is one ``INSERT ... ON CONFLICT DO NOTHING``: two collectors creating the same
  account cannot both succeed, and the one that loses gets ``UserExists``.
- ``set_disabled`` locks the account's row (``FOR UPDATE`` on PostgreSQL) before it marks the
  account and deletes its sessions. That conflicts with the key-share lock the foreign-key check
  of every session insert takes, so a session being created elsewhere at that moment either
  commits first (and is deleted here) or waits and lands after the account is disabled (where
  the console refuses it on its first request, as it checks the account on every request).
- Session expiry is one ``DELETE``. At READ COMMITTED PostgreSQL re-checks a row that another
  collector touched meanwhile against the newest version, so a session kept alive at the last
  moment survives; two collectors expiring at once each delete a row at most once.
- A sign-in attempt is counted in one transaction that locks its throttle counters (SQLite:
  ``BEGIN IMMEDIATE``; PostgreSQL: each counter inserted if missing, then ``FOR UPDATE``, always
  in the same order so two attempts cannot deadlock), decides, and writes the new counts before
  any password is checked: of any number of parallel guesses, only as many as the throttle
  allows are ever checked, across every collector on the database.
- ``replace_password`` locks the account row as ``set_disabled`` does, and ends the account's
  other sessions in the same transaction.
- Owners and assignments are upserts on their keys, so repeats and races leave one row.

Names are listed by code point whatever the database's locale. Lock waits are bounded
(``lock_timeout_s``) and end as ``ConsoleStoreError``. Error messages carry the database's
primary message only: PostgreSQL's detail line would quote key values (account names), and none
of that may reach a log.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from collector.domain.sign_in_throttle import ThrottleKey, ThrottlePolicy, ThrottleState, Verdict, after_success, decide
from collector.store.base import StoredEvent
from collector.store.console_base import (
    Assignment,
    ConsoleSession,
    ConsoleStoreError,
    ConsoleUser,
    IncidentNote,
    UnknownUser,
    UserExists,
)
from collector.store.database import LOCK_TIMEOUT_S, Database, Failure, Tx
from collector.store.dialects import PostgresDialect, SqlDialect, SQLiteDialect
from collector.store.events import EventStore

__all__ = ["PostgresConsoleStore", "SQLConsoleStore", "SQLiteConsoleStore"]

_USER_COLUMNS = "name, role, password_hash, created_at, disabled_at, last_login_at"
_SESSION_COLUMNS = "token_hash, user_name, csrf_token, created_at, last_seen_at, flash"
_KIND = re.compile(r"[a-z][a-z0-9_]*")
_FAILURE = Failure(ConsoleStoreError, "console storage failed")


class SQLConsoleStore:
    """``ConsoleStore`` over one database; one connection per thread."""

    def __init__(self, dialect: SqlDialect, *, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        EventStore(dialect).close()  # SQLite: applies pending migrations; PostgreSQL: refuses an old schema
        self.dialect = dialect
        self._database = Database(dialect, failure=_FAILURE, lock_timeout_s=lock_timeout_s)

    @property
    def db(self) -> Any:
        """This thread's driver connection (for tests that look inside)."""
        return self._database.connection()

    # -- accounts ----------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str, at_us: int) -> None:
        """Create an account (one statement, so of two processes adding one name the other gets ``UserExists``)."""
        if (
            self._database.run(
                "INSERT INTO console_users(name, role, password_hash, created_at) VALUES (?,?,?,?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, role, password_hash, at_us),
            )
            == 0
        ):
            raise UserExists(f"there is already an account named {name!r}")

    def get_user(self, name: str) -> ConsoleUser | None:
        """One account."""
        rows = self._database.rows(f"SELECT {_USER_COLUMNS} FROM console_users WHERE name = ?", (name,))
        return ConsoleUser(*rows[0]) if rows else None

    def list_users(self) -> list[ConsoleUser]:
        """Every account."""
        return [
            ConsoleUser(*r)
            for r in self._database.rows(
                f"SELECT {_USER_COLUMNS} FROM console_users ORDER BY name{self.dialect.by_code_point}"
            )
        ]

    def set_password_hash(self, name: str, password_hash: str) -> None:
        """Replace the password hash."""
        if self._database.run("UPDATE console_users SET password_hash = ? WHERE name = ?", (password_hash, name)) == 0:
            raise UnknownUser(f"no account named {name!r}")

    def set_disabled(self, name: str, disabled_at_us: int | None) -> None:
        """Disable or re-enable; disabling ends every session of the account in the same transaction.

        The account row is locked first (``for_update``), so sessions being created for it
        elsewhere finish before (and are deleted here) or start after (see the module docstring).
        """
        with self._database.transaction() as tx:
            found = tx.one(f"SELECT 1 FROM console_users WHERE name = ?{self.dialect.for_update}", (name,))
            if found is not None:
                tx.run("UPDATE console_users SET disabled_at = ? WHERE name = ?", (disabled_at_us, name))
                if disabled_at_us is not None:
                    tx.run("DELETE FROM console_sessions WHERE user_name = ?", (name,))
        if found is None:
            raise UnknownUser(f"no account named {name!r}")

    def replace_password(self, name: str, password_hash: str, keep_session: str | None = None) -> int:
        """A new password; every session of the account but ``keep_session`` (a token hash) ends. How many ended."""
        with self._database.transaction() as tx:
            found = tx.one(f"SELECT 1 FROM console_users WHERE name = ?{self.dialect.for_update}", (name,))
            ended = 0
            if found is not None:
                tx.run("UPDATE console_users SET password_hash = ? WHERE name = ?", (password_hash, name))
                ended = tx.run(
                    "DELETE FROM console_sessions WHERE user_name = ? AND token_hash <> ?", (name, keep_session or "")
                )
        if found is None:
            raise UnknownUser(f"no account named {name!r}")
        return ended

    def record_login(self, name: str, at_us: int) -> None:
        """Remember the last sign-in."""
        self._database.run("UPDATE console_users SET last_login_at = ? WHERE name = ?", (at_us, name))

    # -- sessions ----------------------------------------------------------------------

    def create_session(self, session: ConsoleSession) -> None:
        """Keep a new session."""
        self._database.run(
            f"INSERT INTO console_sessions({_SESSION_COLUMNS}) VALUES (?,?,?,?,?,?)",
            (session.token_hash, session.user_name, session.csrf_token, session.created_at_us,
             session.last_seen_at_us, session.flash),
        )  # fmt: skip

    def get_session(self, token_hash: str) -> ConsoleSession | None:
        """A session by token hash."""
        rows = self._database.rows(
            f"SELECT {_SESSION_COLUMNS} FROM console_sessions WHERE token_hash = ?", (token_hash,)
        )
        return ConsoleSession(*rows[0]) if rows else None

    def touch_session(self, token_hash: str, at_us: int) -> None:
        """Record activity."""
        self._database.run("UPDATE console_sessions SET last_seen_at = ? WHERE token_hash = ?", (at_us, token_hash))

    def set_flash(self, token_hash: str, flash: str | None) -> None:
        """Set or clear the flash message."""
        self._database.run("UPDATE console_sessions SET flash = ? WHERE token_hash = ?", (flash, token_hash))

    def delete_session(self, token_hash: str) -> None:
        """End one session."""
        self._database.run("DELETE FROM console_sessions WHERE token_hash = ?", (token_hash,))

    def delete_sessions_before(self, created_before_us: int, idle_before_us: int) -> int:
        """End expired sessions."""
        return self._database.run(
            "DELETE FROM console_sessions WHERE created_at < ? OR last_seen_at < ?", (created_before_us, idle_before_us)
        )

    # -- sign-in throttle --------------------------------------------------------------

    def _lock_counters(self, tx: Tx, keys: Sequence[ThrottleKey]) -> dict[str, ThrottleState | None]:
        """Each counter, created if missing and locked (in the order given: callers sort keys)."""
        stored: dict[str, ThrottleState | None] = {}
        for k in keys:
            tx.run(
                "INSERT INTO console_throttle(key, account_hash, attempts, last_at, next_at) VALUES (?,?,0,0,0)"
                " ON CONFLICT (key) DO NOTHING",
                (k.key, k.account_hash),
            )
            row = tx.one(
                "SELECT attempts, last_at, next_at, succeeded_at FROM console_throttle WHERE key = ?"
                f"{self.dialect.for_update}",
                (k.key,),
            )
            stored[k.key] = None if row is None else ThrottleState(int(row[0]), int(row[1]), int(row[2]), row[3])
        return stored

    def _write_counters(self, tx: Tx, states: dict[str, ThrottleState]) -> None:
        for key, st in states.items():
            tx.run(
                "UPDATE console_throttle SET attempts = ?, last_at = ?, next_at = ?, succeeded_at = ? WHERE key = ?",
                (st.attempts, st.last_at_us, st.next_at_us, st.succeeded_at_us, key),
            )

    def throttle_attempt(self, keys: Sequence[ThrottleKey], now_us: int, policy: ThrottlePolicy) -> Verdict:
        """Ask for one password check: counted at once when allowed, else the wait (see the module docstring)."""
        with self._database.transaction() as tx:
            verdict = decide(tuple(keys), self._lock_counters(tx, keys), now_us, policy)
            if verdict.allowed:
                self._write_counters(tx, dict(verdict.states))
        return verdict

    def throttle_success(self, keys: Sequence[ThrottleKey], now_us: int, policy: ThrottlePolicy) -> None:
        """The checked password was right: start the counters afresh (``after_success``)."""
        with self._database.transaction() as tx:
            self._write_counters(tx, after_success(tuple(keys), self._lock_counters(tx, keys), now_us, policy))

    def throttle_clear(self, account_hash: str) -> int:
        """Lift every wait on an account's counters (``users unlock``); how many counters were waiting or counting."""
        return self._database.run(
            "UPDATE console_throttle SET attempts = 0, last_at = 0, next_at = 0"
            " WHERE account_hash = ? AND (attempts > 0 OR next_at > 0)",
            (account_hash,),
        )

    def throttle_prune(self, idle_before_us: int, trusted_before_us: int) -> int:
        """Forget counters idle since ``idle_before_us`` whose last success (if any) is before the second; how many."""
        return self._database.run(
            "DELETE FROM console_throttle WHERE last_at < ? AND next_at < ?"
            " AND (succeeded_at IS NULL OR succeeded_at < ?)",
            (idle_before_us, idle_before_us, trusted_before_us),
        )

    # -- devices -----------------------------------------------------------------------

    def assign_owner(self, device: str, user_name: str, at_us: int) -> None:
        """Link an owner to a device (idempotent)."""
        if self.get_user(user_name) is None:
            raise UnknownUser(f"no account named {user_name!r}")
        if not self._database.rows("SELECT 1 FROM devices WHERE name = ?", (device,)):
            raise ConsoleStoreError(f"no enrolled device named {device!r}")
        self._database.run(
            "INSERT INTO console_device_owners(device, user_name, assigned_at) VALUES (?,?,?)"
            " ON CONFLICT (device, user_name) DO NOTHING",
            (device, user_name, at_us),
        )

    def remove_owner(self, device: str, user_name: str) -> bool:
        """Unlink an owner."""
        return (
            self._database.run(
                "DELETE FROM console_device_owners WHERE device = ? AND user_name = ?", (device, user_name)
            )
            == 1
        )

    def devices_of(self, user_name: str) -> list[str]:
        """Devices an account owns."""
        rows = self._database.rows(
            f"SELECT device FROM console_device_owners WHERE user_name = ? ORDER BY device{self.dialect.by_code_point}",
            (user_name,),
        )
        return [str(r[0]) for r in rows]

    def owners(self) -> dict[str, list[str]]:
        """Owners of every device."""
        result: dict[str, list[str]] = {}
        for device, user in self._database.rows(
            f"SELECT device, user_name FROM console_device_owners ORDER BY device{self.dialect.by_code_point},"
            f" user_name{self.dialect.by_code_point}"
        ):
            result.setdefault(str(device), []).append(str(user))
        return result

    def posture_events_at(self, device: str, kinds: Sequence[str], at_us: int) -> dict[str, StoredEvent]:
        """Newest event of each kind received by ``at_us``.

        Kinds are written into the SQL as literals so the database can use the partial index of
        posture events; they must be plain snake_case names.
        """
        if not kinds:
            return {}
        if not all(_KIND.fullmatch(k) for k in kinds):
            raise ConsoleStoreError("event kinds must be snake_case names")
        listed = ",".join(f"'{k}'" for k in kinds)
        rows = self._database.rows(
            "SELECT device, event_id, seq, kind, occurred_at, received_at, agent_version, body FROM events"
            f" WHERE id IN (SELECT MAX(id) FROM events WHERE device = ? AND kind IN ({listed}) AND received_at <= ?"
            " GROUP BY kind)",
            (device, at_us),
        )
        return {
            str(r[3]): StoredEvent(r[0], r[1], int(r[2]), r[3], int(r[4]), int(r[5]), r[6], bytes(r[7])) for r in rows
        }

    # -- incidents ---------------------------------------------------------------------

    def assign_incident(self, incident_id: str, user_name: str, by: str, at_us: int) -> None:
        """Assign (or reassign) an incident."""
        if self.get_user(user_name) is None:
            raise UnknownUser(f"no account named {user_name!r}")
        self._database.run(
            "INSERT INTO console_assignments(incident_id, user_name, assigned_at, assigned_by) VALUES (?,?,?,?)"
            " ON CONFLICT (incident_id) DO UPDATE SET user_name = excluded.user_name,"
            " assigned_at = excluded.assigned_at, assigned_by = excluded.assigned_by",
            (incident_id, user_name, at_us, by),
        )

    def unassign_incident(self, incident_id: str) -> bool:
        """Remove an assignment."""
        return self._database.run("DELETE FROM console_assignments WHERE incident_id = ?", (incident_id,)) == 1

    def assignments(self) -> dict[str, Assignment]:
        """Every assignment."""
        rows = self._database.rows("SELECT incident_id, user_name, assigned_at, assigned_by FROM console_assignments")
        return {str(r[0]): Assignment(*r) for r in rows}

    def add_note(self, note: IncidentNote) -> None:
        """Keep a note."""
        self._database.run(
            "INSERT INTO console_notes(incident_id, at, author, text) VALUES (?,?,?,?)",
            (note.incident_id, note.at_us, note.by, note.text),
        )

    def notes(self, incident_id: str) -> list[IncidentNote]:
        """An incident's notes."""
        rows = self._database.rows(
            "SELECT incident_id, at, author, text FROM console_notes WHERE incident_id = ? ORDER BY id", (incident_id,)
        )
        return [IncidentNote(*r) for r in rows]

    def close(self) -> None:
        """Close every connection this store opened."""
        self._database.close()


class SQLiteConsoleStore(SQLConsoleStore):
    """The console's store in the collector's SQLite file."""

    def __init__(self, path: Path) -> None:
        super().__init__(SQLiteDialect(path))


class PostgresConsoleStore(SQLConsoleStore):
    """The console's store in a shared PostgreSQL database (refuses a schema `migrate` has not updated)."""

    def __init__(self, url: str, *, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        super().__init__(PostgresDialect(url), lock_timeout_s=lock_timeout_s)
