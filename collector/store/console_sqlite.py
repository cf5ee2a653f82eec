"""The console's storage in the collector's SQLite database (tables from migration 3)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from collector.store.base import StoredEvent
from collector.store.connections import sqlite_connections
from collector.store.console_base import (
    Assignment,
    ConsoleSession,
    ConsoleStoreError,
    ConsoleUser,
    IncidentNote,
    UnknownUser,
    UserExists,
)
from collector.store.sqlite import SQLiteStore

_USER_COLUMNS = "name, role, password_hash, created_at, disabled_at, last_login_at"
_SESSION_COLUMNS = "token_hash, user_name, csrf_token, created_at, last_seen_at, flash"
_KIND = re.compile(r"[a-z][a-z0-9_]*")


class SQLiteConsoleStore:
    """``ConsoleStore`` over the collector's SQLite file; one connection per thread."""

    def __init__(self, path: Path) -> None:
        SQLiteStore(path).close()  # applies pending migrations, the console's included
        self._path = path
        self._conns = sqlite_connections(path)

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection."""
        return self._conns.get()

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            changed = db.execute(sql, params).rowcount
            db.execute("COMMIT")
            return int(changed)
        except sqlite3.IntegrityError as exc:
            db.execute("ROLLBACK")
            raise ConsoleStoreError(f"refused by the database: {exc}") from exc
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise ConsoleStoreError(f"console storage failed: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise ConsoleStoreError(f"console storage failed: {exc}") from exc

    # -- accounts ----------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str, at_us: int) -> None:
        """Create an account (one statement, so of two processes adding one name the other gets ``UserExists``)."""
        if (
            self._write(
                "INSERT INTO console_users(name, role, password_hash, created_at) VALUES (?,?,?,?)"
                " ON CONFLICT(name) DO NOTHING",
                (name, role, password_hash, at_us),
            )
            == 0
        ):
            raise UserExists(f"there is already an account named {name!r}")

    def get_user(self, name: str) -> ConsoleUser | None:
        """One account."""
        rows = self._read(f"SELECT {_USER_COLUMNS} FROM console_users WHERE name = ?", (name,))
        return ConsoleUser(*rows[0]) if rows else None

    def list_users(self) -> list[ConsoleUser]:
        """Every account."""
        return [ConsoleUser(*r) for r in self._read(f"SELECT {_USER_COLUMNS} FROM console_users ORDER BY name")]

    def set_password_hash(self, name: str, password_hash: str) -> None:
        """Replace the password hash."""
        if self._write("UPDATE console_users SET password_hash = ? WHERE name = ?", (password_hash, name)) == 0:
            raise UnknownUser(f"no account named {name!r}")

    def set_disabled(self, name: str, disabled_at_us: int | None) -> None:
        """Disable or re-enable; disabling ends every session of the account in the same transaction."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            changed = db.execute(
                "UPDATE console_users SET disabled_at = ? WHERE name = ?", (disabled_at_us, name)
            ).rowcount
            if disabled_at_us is not None:
                db.execute("DELETE FROM console_sessions WHERE user_name = ?", (name,))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise ConsoleStoreError(f"console storage failed: {exc}") from exc
        if changed == 0:
            raise UnknownUser(f"no account named {name!r}")

    def record_login(self, name: str, at_us: int) -> None:
        """Remember the last sign-in."""
        self._write("UPDATE console_users SET last_login_at = ? WHERE name = ?", (at_us, name))

    # -- sessions ----------------------------------------------------------------------

    def create_session(self, session: ConsoleSession) -> None:
        """Keep a new session."""
        self._write(
            f"INSERT INTO console_sessions({_SESSION_COLUMNS}) VALUES (?,?,?,?,?,?)",
            (session.token_hash, session.user_name, session.csrf_token, session.created_at_us,
             session.last_seen_at_us, session.flash),
        )  # fmt: skip

    def get_session(self, token_hash: str) -> ConsoleSession | None:
        """A session by token hash."""
        rows = self._read(f"SELECT {_SESSION_COLUMNS} FROM console_sessions WHERE token_hash = ?", (token_hash,))
        return ConsoleSession(*rows[0]) if rows else None

    def touch_session(self, token_hash: str, at_us: int) -> None:
        """Record activity."""
        self._write("UPDATE console_sessions SET last_seen_at = ? WHERE token_hash = ?", (at_us, token_hash))

    def set_flash(self, token_hash: str, flash: str | None) -> None:
        """Set or clear the flash message."""
        self._write("UPDATE console_sessions SET flash = ? WHERE token_hash = ?", (flash, token_hash))

    def delete_session(self, token_hash: str) -> None:
        """End one session."""
        self._write("DELETE FROM console_sessions WHERE token_hash = ?", (token_hash,))

    def delete_sessions_before(self, created_before_us: int, idle_before_us: int) -> int:
        """End expired sessions."""
        return self._write(
            "DELETE FROM console_sessions WHERE created_at < ? OR last_seen_at < ?", (created_before_us, idle_before_us)
        )

    # -- devices -----------------------------------------------------------------------

    def assign_owner(self, device: str, user_name: str, at_us: int) -> None:
        """Link an owner to a device (idempotent)."""
        if self.get_user(user_name) is None:
            raise UnknownUser(f"no account named {user_name!r}")
        if not self._read("SELECT 1 FROM devices WHERE name = ?", (device,)):
            raise ConsoleStoreError(f"no enrolled device named {device!r}")
        self._write(
            "INSERT OR IGNORE INTO console_device_owners(device, user_name, assigned_at) VALUES (?,?,?)",
            (device, user_name, at_us),
        )

    def remove_owner(self, device: str, user_name: str) -> bool:
        """Unlink an owner."""
        return (
            self._write("DELETE FROM console_device_owners WHERE device = ? AND user_name = ?", (device, user_name))
            == 1
        )

    def devices_of(self, user_name: str) -> list[str]:
        """Devices an account owns."""
        rows = self._read("SELECT device FROM console_device_owners WHERE user_name = ? ORDER BY device", (user_name,))
        return [str(r[0]) for r in rows]

    def owners(self) -> dict[str, list[str]]:
        """Owners of every device."""
        result: dict[str, list[str]] = {}
        for device, user in self._read(
            "SELECT device, user_name FROM console_device_owners ORDER BY device, user_name"
        ):
            result.setdefault(str(device), []).append(str(user))
        return result

    def posture_events_at(self, device: str, kinds: Sequence[str], at_us: int) -> dict[str, StoredEvent]:
        """Newest event of each kind received by ``at_us``.

        Kinds are written into the SQL as literals so SQLite can use the partial index of
        posture events (migration 3); they must be plain snake_case names.
        """
        if not kinds:
            return {}
        if not all(_KIND.fullmatch(k) for k in kinds):
            raise ConsoleStoreError("event kinds must be snake_case names")
        listed = ",".join(f"'{k}'" for k in kinds)
        rows = self._read(
            "SELECT device, event_id, seq, kind, occurred_at, received_at, agent_version, body FROM events"
            f" WHERE id IN (SELECT MAX(id) FROM events WHERE device = ? AND kind IN ({listed}) AND received_at <= ?"
            " GROUP BY kind)",
            (device, at_us),
        )
        return {str(r[3]): StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes(r[7])) for r in rows}

    # -- incidents ---------------------------------------------------------------------

    def assign_incident(self, incident_id: str, user_name: str, by: str, at_us: int) -> None:
        """Assign (or reassign) an incident."""
        if self.get_user(user_name) is None:
            raise UnknownUser(f"no account named {user_name!r}")
        self._write(
            "INSERT INTO console_assignments(incident_id, user_name, assigned_at, assigned_by) VALUES (?,?,?,?)"
            " ON CONFLICT(incident_id) DO UPDATE SET user_name = excluded.user_name,"
            " assigned_at = excluded.assigned_at, assigned_by = excluded.assigned_by",
            (incident_id, user_name, at_us, by),
        )

    def unassign_incident(self, incident_id: str) -> bool:
        """Remove an assignment."""
        return self._write("DELETE FROM console_assignments WHERE incident_id = ?", (incident_id,)) == 1

    def assignments(self) -> dict[str, Assignment]:
        """Every assignment."""
        rows = self._read("SELECT incident_id, user_name, assigned_at, assigned_by FROM console_assignments")
        return {str(r[0]): Assignment(*r) for r in rows}

    def add_note(self, note: IncidentNote) -> None:
        """Keep a note."""
        self._write(
            "INSERT INTO console_notes(incident_id, at, author, text) VALUES (?,?,?,?)",
            (note.incident_id, note.at_us, note.by, note.text),
        )

    def notes(self, incident_id: str) -> list[IncidentNote]:
        """An incident's notes."""
        rows = self._read(
            "SELECT incident_id, at, author, text FROM console_notes WHERE incident_id = ? ORDER BY id", (incident_id,)
        )
        return [IncidentNote(*r) for r in rows]

    def close(self) -> None:
        """Close every connection this store opened."""
        self._conns.close_all()
