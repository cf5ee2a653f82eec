"""Enrolment tokens and policy versions in the collector's SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from collector.enrollment.tokens import TokenRecord
from collector.store.base import StoreError
from collector.store.connections import sqlite_connections
from collector.store.enrollment_base import PolicyRecord
from collector.store.sqlite import SQLiteStore

_TOKEN_COLUMNS = "token_id, secret_hash, expires_at, uses_left, created_at"


class SQLiteEnrollmentStore:
    """EnrollmentStore over the same SQLite file as the events (migrated by SQLiteStore)."""

    def __init__(self, path: Path) -> None:
        SQLiteStore(path).close()  # brings the schema up to date
        self._path = path
        self._conns = sqlite_connections(path)

    def _db(self) -> sqlite3.Connection:
        return self._conns.get()

    def close(self) -> None:
        """Close every connection."""
        self._conns.close_all()

    def add_token(self, record: TokenRecord) -> None:
        """Keep a new token."""
        self._tx(
            lambda db: db.execute(
                f"INSERT INTO enrollment_tokens({_TOKEN_COLUMNS}) VALUES (?,?,?,?,?)",
                (record.token_id, record.secret_hash, record.expires_at_us, record.uses_left, record.created_at_us),
            )
        )

    def get_token(self, token_id: str) -> TokenRecord | None:
        """A token by id."""
        row = self._db().execute(
            f"SELECT {_TOKEN_COLUMNS} FROM enrollment_tokens WHERE token_id = ?", (token_id,)
        ).fetchone()
        return None if row is None else TokenRecord(row[0], bytes(row[1]), row[2], row[3], row[4])

    def list_tokens(self) -> list[TokenRecord]:
        """All tokens, newest first."""
        rows = self._db().execute(f"SELECT {_TOKEN_COLUMNS} FROM enrollment_tokens ORDER BY created_at DESC")
        return [TokenRecord(r[0], bytes(r[1]), r[2], r[3], r[4]) for r in rows]

    def enroll_device(self, token_id: str, name: str, cert_fingerprint: str, now_us: int) -> bool:
        """Consume a token use and register the device in one transaction."""
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            used = db.execute(
                "UPDATE enrollment_tokens SET uses_left = uses_left - 1"
                " WHERE token_id = ? AND uses_left > 0 AND expires_at > ?",
                (token_id, now_us),
            ).rowcount
            if used != 1:
                db.execute("ROLLBACK")
                return False
            db.execute("INSERT INTO devices(name, enrolled_at) VALUES (?, ?)", (name, now_us))
            db.execute(
                "INSERT INTO device_certificates(fingerprint, device, issued_at) VALUES (?,?,?)",
                (cert_fingerprint, name, now_us),
            )
            db.execute("COMMIT")
            return True
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(f"enrolment failed: {exc}") from exc

    def add_policy(self, body: bytes, signature: bytes, signer_pem: bytes, created_at_us: int, created_by: str) -> int:
        """Store the next policy version."""
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            version = int(db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM policies").fetchone()[0])
            db.execute(
                "INSERT INTO policies(version, body, signature, signer_pem, created_at, created_by)"
                " VALUES (?,?,?,?,?,?)",
                (version, body, signature, signer_pem, created_at_us, created_by),
            )
            db.execute("COMMIT")
            return version
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(f"cannot store policy: {exc}") from exc

    def current_policy(self) -> PolicyRecord | None:
        """The newest policy version."""
        row = self._db().execute(
            "SELECT version, body, signature, signer_pem, created_at, created_by FROM policies"
            " ORDER BY version DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return PolicyRecord(row[0], bytes(row[1]), bytes(row[2]), bytes(row[3]), row[4], row[5])

    def _tx(self, work: Callable[[sqlite3.Connection], object]) -> None:
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            work(db)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(str(exc)) from exc
