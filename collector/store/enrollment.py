"""Enrolment tokens and central policy versions, once for both databases.

Same database as the events: enrolling a device consumes a token use and registers the device
with its first certificate in one transaction, so a token never enrols more devices than it
allows, even with several collectors (the token's row is the lock). Policy versions are
numbered one at a time (SQLite: the writer lock; PostgreSQL: the ``POLICY_LOCK`` advisory lock).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from collector.enrollment.tokens import TokenRecord
from collector.store.base import StoreError
from collector.store.database import Database, Failure
from collector.store.dialects import PostgresDialect, SqlDialect, SQLiteDialect
from collector.store.enrollment_base import PolicyRecord
from collector.store.events import EventStore

__all__ = ["PostgresEnrollmentStore", "SQLEnrollmentStore", "SQLiteEnrollmentStore"]

POLICY_LOCK = 0x706F6C69  # "poli": policy versions are numbered one at a time
_TOKEN_COLUMNS = "token_id, secret_hash, expires_at, uses_left, created_at"


def _token(r: Sequence[Any]) -> TokenRecord:
    return TokenRecord(r[0], bytes(r[1]), int(r[2]), int(r[3]), int(r[4]))


class _Spent(StoreError):
    """A token had no use left (raised inside the transaction to roll it back)."""


class SQLEnrollmentStore:
    """``EnrollmentStore`` over one database; one connection per thread."""

    def __init__(self, dialect: SqlDialect) -> None:
        EventStore(dialect).close()  # SQLite: applies pending migrations; PostgreSQL: refuses an old schema
        self._database = Database(dialect, failure=Failure(StoreError, "enrolment storage failed"))

    def close(self) -> None:
        """Close every connection."""
        self._database.close()

    def add_token(self, record: TokenRecord) -> None:
        """Keep a new token."""
        self._database.run(
            f"INSERT INTO enrollment_tokens({_TOKEN_COLUMNS}) VALUES (?,?,?,?,?)",
            (record.token_id, record.secret_hash, record.expires_at_us, record.uses_left, record.created_at_us),
        )

    def get_token(self, token_id: str) -> TokenRecord | None:
        """A token by id."""
        row = self._database.one(f"SELECT {_TOKEN_COLUMNS} FROM enrollment_tokens WHERE token_id = ?", (token_id,))
        return None if row is None else _token(row)

    def list_tokens(self) -> list[TokenRecord]:
        """All tokens, newest first."""
        return [
            _token(r)
            for r in self._database.rows(f"SELECT {_TOKEN_COLUMNS} FROM enrollment_tokens ORDER BY created_at DESC")
        ]

    def enroll_device(self, token_id: str, name: str, cert_fingerprint: str, now_us: int) -> bool:
        """Consume a token use and register the device in one transaction."""
        try:
            with self._database.transaction() as tx:
                used = tx.run(
                    "UPDATE enrollment_tokens SET uses_left = uses_left - 1"
                    " WHERE token_id = ? AND uses_left > 0 AND expires_at > ?",
                    (token_id, now_us),
                )
                if used != 1:
                    raise _Spent
                tx.run("INSERT INTO devices(name, enrolled_at) VALUES (?, ?)", (name, now_us))
                tx.run(
                    "INSERT INTO device_certificates(fingerprint, device, issued_at) VALUES (?,?,?)",
                    (cert_fingerprint, name, now_us),
                )
        except _Spent:
            return False
        return True

    def add_policy(self, body: bytes, signature: bytes, signer_pem: bytes, created_at_us: int, created_by: str) -> int:
        """Store the next policy version."""
        with self._database.transaction(lock=POLICY_LOCK) as tx:
            row = tx.one("SELECT COALESCE(MAX(version), 0) + 1 FROM policies")
            version = 1 if row is None else int(row[0])
            tx.run(
                "INSERT INTO policies(version, body, signature, signer_pem, created_at, created_by)"
                " VALUES (?,?,?,?,?,?)",
                (version, body, signature, signer_pem, created_at_us, created_by),
            )
        return version

    def current_policy(self) -> PolicyRecord | None:
        """The newest policy version."""
        r = self._database.one(
            "SELECT version, body, signature, signer_pem, created_at, created_by FROM policies"
            " ORDER BY version DESC LIMIT 1"
        )
        if r is None:
            return None
        return PolicyRecord(int(r[0]), bytes(r[1]), bytes(r[2]), bytes(r[3]), int(r[4]), r[5])


class SQLiteEnrollmentStore(SQLEnrollmentStore):
    """Enrolment in the collector's SQLite file."""

    def __init__(self, path: Path) -> None:
        super().__init__(SQLiteDialect(path))


class PostgresEnrollmentStore(SQLEnrollmentStore):
    """Enrolment in a shared PostgreSQL database (refuses a schema `migrate` has not updated)."""

    def __init__(self, url: str) -> None:
        super().__init__(PostgresDialect(url))
