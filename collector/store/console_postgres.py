"""The console's storage in PostgreSQL (tables from migration 4), shared by several collectors.

Same behaviour as ``console_sqlite`` (tests/contract runs both). Each write is one statement,
or one short transaction, and takes row locks only; no console write waits on another's
whole table. Where several collectors could race:

- ``add_user`` is one ``INSERT ... ON CONFLICT DO NOTHING``: two collectors creating the same
  account cannot both succeed, and the one that loses gets ``UserExists``.
- ``set_disabled`` takes the account's row ``FOR UPDATE`` before it marks the account and
  deletes its sessions. That conflicts with the key-share lock the foreign-key check of every
  session insert takes, so a session being created elsewhere at that moment either commits
  first (and is deleted here) or waits and lands after the account is disabled (where the
  console refuses it on its first request, as it checks the account on every request).
- Session expiry is one ``DELETE``. At READ COMMITTED PostgreSQL re-checks a row that another
  collector touched meanwhile against the newest version, so a session kept alive at the last
  moment survives; two collectors expiring at once each delete a row at most once.
- Owners and assignments are upserts on their keys, so repeats and races leave one row.

Lock waits are bounded (``lock_timeout``, as SQLite's busy timeout) and end as
``ConsoleStoreError``. Error messages carry PostgreSQL's primary message only: its detail
line would quote key values (account names), and none of that may reach a log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from collector.store.base import StoredEvent
from collector.store.connections import postgres_connections
from collector.store.console_base import (
    Assignment,
    ConsoleSession,
    ConsoleStoreError,
    ConsoleUser,
    IncidentNote,
    UnknownUser,
    UserExists,
)
from collector.store.postgres import PostgresStore
from collector.store.workflow_postgres import LOCK_TIMEOUT_S

_USER_COLUMNS = "name, role, password_hash, created_at, disabled_at, last_login_at"
_SESSION_COLUMNS = "token_hash, user_name, csrf_token, created_at, last_seen_at, flash"
_KIND = re.compile(r"[a-z][a-z0-9_]*")
_BYTES = 'COLLATE "C"'  # order names by code point, as SQLite does, whatever the database's locale


def _reason(exc: psycopg.Error) -> str:
    """PostgreSQL's primary message (never the detail line, which quotes key values)."""
    return exc.diag.message_primary or type(exc).__name__


class PostgresConsoleStore:
    """``ConsoleStore`` over PostgreSQL; one autocommit connection per thread, short explicit transactions."""

    def __init__(self, url: str, *, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        PostgresStore(url).close()  # refuses a schema that `caseguard-collector migrate` has not brought up to date
        self._url = url
        self._lock_timeout_ms = max(1, round(lock_timeout_s * 1000))
        self._conns = postgres_connections(
            url,
            autocommit=True,
            on_connect=lambda db: db.execute(
                "SELECT set_config('lock_timeout', %s, false)", (f"{self._lock_timeout_ms}ms",)
            ),
            error=lambda exc: ConsoleStoreError(f"cannot connect to PostgreSQL: {_reason(exc)}"),
        )

    def _db(self) -> psycopg.Connection[Any]:
        """This thread's connection (a new one after the old one broke)."""
        return self._conns.get()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        """One statement, committed on its own (autocommit)."""
        try:
            return self._db().execute(sql, params)
        except psycopg.IntegrityError as exc:
            raise ConsoleStoreError(f"refused by the database: {_reason(exc)}") from exc
        except psycopg.Error as exc:
            raise ConsoleStoreError(f"console storage failed: {_reason(exc)}") from exc

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        return int(self._execute(sql, params).rowcount)

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._execute(sql, params)
        try:
            return cur.fetchall()
        except psycopg.Error as exc:
            raise ConsoleStoreError(f"console storage failed: {_reason(exc)}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """Several statements committed together; rolled back on any error."""
        try:
            with self._db().transaction() as tx:
                yield tx.connection
        except psycopg.IntegrityError as exc:
            raise ConsoleStoreError(f"refused by the database: {_reason(exc)}") from exc
        except psycopg.Error as exc:
            raise ConsoleStoreError(f"console storage failed: {_reason(exc)}") from exc

    # -- accounts ----------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str, at_us: int) -> None:
        """Create an account (atomically: of two collectors adding one name, one gets ``UserExists``)."""
        if (
            self._write(
                "INSERT INTO console_users(name, role, password_hash, created_at) VALUES (%s,%s,%s,%s)"
                " ON CONFLICT (name) DO NOTHING",
                (name, role, password_hash, at_us),
            )
            == 0
        ):
            raise UserExists(f"there is already an account named {name!r}")

    def get_user(self, name: str) -> ConsoleUser | None:
        """One account."""
        rows = self._read(f"SELECT {_USER_COLUMNS} FROM console_users WHERE name = %s", (name,))
        return ConsoleUser(*rows[0]) if rows else None

    def list_users(self) -> list[ConsoleUser]:
        """Every account."""
        rows = self._read(f"SELECT {_USER_COLUMNS} FROM console_users ORDER BY name {_BYTES}")
        return [ConsoleUser(*r) for r in rows]

    def set_password_hash(self, name: str, password_hash: str) -> None:
        """Replace the password hash."""
        if self._write("UPDATE console_users SET password_hash = %s WHERE name = %s", (password_hash, name)) == 0:
            raise UnknownUser(f"no account named {name!r}")

    def set_disabled(self, name: str, disabled_at_us: int | None) -> None:
        """Disable or re-enable; disabling ends every session of the account in the same transaction.

        The account row is locked ``FOR UPDATE`` first, so sessions being created for it
        elsewhere finish before (and are deleted here) or start after (see the module docstring).
        """
        with self._transaction() as db:
            found = db.execute("SELECT 1 FROM console_users WHERE name = %s FOR UPDATE", (name,)).fetchone()
            if found is not None:
                db.execute("UPDATE console_users SET disabled_at = %s WHERE name = %s", (disabled_at_us, name))
                if disabled_at_us is not None:
                    db.execute("DELETE FROM console_sessions WHERE user_name = %s", (name,))
        if found is None:
            raise UnknownUser(f"no account named {name!r}")

    def record_login(self, name: str, at_us: int) -> None:
        """Remember the last sign-in."""
        self._write("UPDATE console_users SET last_login_at = %s WHERE name = %s", (at_us, name))

    # -- sessions ----------------------------------------------------------------------

    def create_session(self, session: ConsoleSession) -> None:
        """Keep a new session."""
        self._write(
            f"INSERT INTO console_sessions({_SESSION_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s)",
            (session.token_hash, session.user_name, session.csrf_token, session.created_at_us,
             session.last_seen_at_us, session.flash),
        )  # fmt: skip

    def get_session(self, token_hash: str) -> ConsoleSession | None:
        """A session by token hash."""
        rows = self._read(f"SELECT {_SESSION_COLUMNS} FROM console_sessions WHERE token_hash = %s", (token_hash,))
        return ConsoleSession(*rows[0]) if rows else None

    def touch_session(self, token_hash: str, at_us: int) -> None:
        """Record activity."""
        self._write("UPDATE console_sessions SET last_seen_at = %s WHERE token_hash = %s", (at_us, token_hash))

    def set_flash(self, token_hash: str, flash: str | None) -> None:
        """Set or clear the flash message."""
        self._write("UPDATE console_sessions SET flash = %s WHERE token_hash = %s", (flash, token_hash))

    def delete_session(self, token_hash: str) -> None:
        """End one session."""
        self._write("DELETE FROM console_sessions WHERE token_hash = %s", (token_hash,))

    def delete_sessions_before(self, created_before_us: int, idle_before_us: int) -> int:
        """End expired sessions (one statement; rows touched meanwhile are re-checked)."""
        return self._write(
            "DELETE FROM console_sessions WHERE created_at < %s OR last_seen_at < %s",
            (created_before_us, idle_before_us),
        )

    # -- devices -----------------------------------------------------------------------

    def assign_owner(self, device: str, user_name: str, at_us: int) -> None:
        """Link an owner to a device (idempotent)."""
        if self.get_user(user_name) is None:
            raise UnknownUser(f"no account named {user_name!r}")
        if not self._read("SELECT 1 FROM devices WHERE name = %s", (device,)):
            raise ConsoleStoreError(f"no enrolled device named {device!r}")
        self._write(
            "INSERT INTO console_device_owners(device, user_name, assigned_at) VALUES (%s,%s,%s)"
            " ON CONFLICT (device, user_name) DO NOTHING",
            (device, user_name, at_us),
        )

    def remove_owner(self, device: str, user_name: str) -> bool:
        """Unlink an owner."""
        return (
            self._write("DELETE FROM console_device_owners WHERE device = %s AND user_name = %s", (device, user_name))
            == 1
        )

    def devices_of(self, user_name: str) -> list[str]:
        """Devices an account owns."""
        rows = self._read(
            f"SELECT device FROM console_device_owners WHERE user_name = %s ORDER BY device {_BYTES}", (user_name,)
        )
        return [str(r[0]) for r in rows]

    def owners(self) -> dict[str, list[str]]:
        """Owners of every device."""
        result: dict[str, list[str]] = {}
        for device, user in self._read(
            f"SELECT device, user_name FROM console_device_owners ORDER BY device {_BYTES}, user_name {_BYTES}"
        ):
            result.setdefault(str(device), []).append(str(user))
        return result

    def posture_events_at(self, device: str, kinds: Sequence[str], at_us: int) -> dict[str, StoredEvent]:
        """Newest event of each kind received by ``at_us``.

        Kinds are written into the SQL as literals so PostgreSQL can use the partial index of
        posture events (migration 4); they must be plain snake_case names.
        """
        if not kinds:
            return {}
        if not all(_KIND.fullmatch(k) for k in kinds):
            raise ConsoleStoreError("event kinds must be snake_case names")
        listed = ",".join(f"'{k}'" for k in kinds)
        rows = self._read(
            "SELECT device, event_id, seq, kind, occurred_at, received_at, agent_version, body FROM events"
            f" WHERE id IN (SELECT MAX(id) FROM events WHERE device = %s AND kind IN ({listed})"
            " AND received_at <= %s GROUP BY kind)",
            (device, at_us),
        )
        return {str(r[3]): StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes(r[7])) for r in rows}

    # -- incidents ---------------------------------------------------------------------

    def assign_incident(self, incident_id: str, user_name: str, by: str, at_us: int) -> None:
        """Assign (or reassign) an incident."""
        if self.get_user(user_name) is None:
            raise UnknownUser(f"no account named {user_name!r}")
        self._write(
            "INSERT INTO console_assignments(incident_id, user_name, assigned_at, assigned_by) VALUES (%s,%s,%s,%s)"
            " ON CONFLICT (incident_id) DO UPDATE SET user_name = EXCLUDED.user_name,"
            " assigned_at = EXCLUDED.assigned_at, assigned_by = EXCLUDED.assigned_by",
            (incident_id, user_name, at_us, by),
        )

    def unassign_incident(self, incident_id: str) -> bool:
        """Remove an assignment."""
        return self._write("DELETE FROM console_assignments WHERE incident_id = %s", (incident_id,)) == 1

    def assignments(self) -> dict[str, Assignment]:
        """Every assignment."""
        rows = self._read("SELECT incident_id, user_name, assigned_at, assigned_by FROM console_assignments")
        return {str(r[0]): Assignment(*r) for r in rows}

    def add_note(self, note: IncidentNote) -> None:
        """Keep a note."""
        self._write(
            "INSERT INTO console_notes(incident_id, at, author, text) VALUES (%s,%s,%s,%s)",
            (note.incident_id, note.at_us, note.by, note.text),
        )

    def notes(self, incident_id: str) -> list[IncidentNote]:
        """An incident's notes."""
        rows = self._read(
            "SELECT incident_id, at, author, text FROM console_notes WHERE incident_id = %s ORDER BY id",
            (incident_id,),
        )
        return [IncidentNote(*r) for r in rows]

    def close(self) -> None:
        """Close every connection this store opened."""
        self._conns.close_all()
