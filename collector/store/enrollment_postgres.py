"""Enrolment tokens and policy versions in PostgreSQL (several collectors share them)."""

from __future__ import annotations

from typing import Any

import psycopg

from collector.enrollment.tokens import TokenRecord
from collector.store.base import StoreError
from collector.store.connections import postgres_connections
from collector.store.enrollment_base import PolicyRecord
from collector.store.postgres import PostgresStore

_TOKEN_COLUMNS = "token_id, secret_hash, expires_at, uses_left, created_at"
_POLICY_LOCK = 0x706F6C69  # "poli": policy versions are numbered one at a time


class PostgresEnrollmentStore:
    """EnrollmentStore over PostgreSQL (schema from `caseguard-collector migrate`)."""

    def __init__(self, url: str) -> None:
        PostgresStore(url).close()  # refuses a database whose schema is behind
        self._url = url
        self._conns = postgres_connections(url)

    def _db(self) -> psycopg.Connection[Any]:
        return self._conns.get()

    def close(self) -> None:
        """Close every connection."""
        self._conns.close_all()

    def add_token(self, record: TokenRecord) -> None:
        """Keep a new token."""
        self._run(
            f"INSERT INTO enrollment_tokens({_TOKEN_COLUMNS}) VALUES (%s,%s,%s,%s,%s)",
            (record.token_id, record.secret_hash, record.expires_at_us, record.uses_left, record.created_at_us),
        )

    def get_token(self, token_id: str) -> TokenRecord | None:
        """A token by id."""
        rows = self._run(f"SELECT {_TOKEN_COLUMNS} FROM enrollment_tokens WHERE token_id = %s", (token_id,))
        return TokenRecord(rows[0][0], bytes(rows[0][1]), *rows[0][2:]) if rows else None

    def list_tokens(self) -> list[TokenRecord]:
        """All tokens, newest first."""
        rows = self._run(f"SELECT {_TOKEN_COLUMNS} FROM enrollment_tokens ORDER BY created_at DESC", ())
        return [TokenRecord(r[0], bytes(r[1]), *r[2:]) for r in rows]

    def enroll_device(self, token_id: str, name: str, cert_fingerprint: str, now_us: int) -> bool:
        """Consume a token use and register the device in one transaction."""
        db = self._db()
        try:
            with db.cursor() as cur:
                cur.execute(
                    "UPDATE enrollment_tokens SET uses_left = uses_left - 1"
                    " WHERE token_id = %s AND uses_left > 0 AND expires_at > %s",
                    (token_id, now_us),
                )
                if cur.rowcount != 1:
                    db.rollback()
                    return False
                cur.execute("INSERT INTO devices(name, enrolled_at) VALUES (%s, %s)", (name, now_us))
                cur.execute(
                    "INSERT INTO device_certificates(fingerprint, device, issued_at) VALUES (%s,%s,%s)",
                    (cert_fingerprint, name, now_us),
                )
            db.commit()
            return True
        except psycopg.Error as exc:
            db.rollback()
            raise StoreError(f"enrolment failed: {exc}") from exc

    def add_policy(self, body: bytes, signature: bytes, signer_pem: bytes, created_at_us: int, created_by: str) -> int:
        """Store the next policy version."""
        db = self._db()
        try:
            with db.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_POLICY_LOCK,))
                cur.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM policies")
                row = cur.fetchone()
                version = int(row[0]) if row else 1
                cur.execute(
                    "INSERT INTO policies(version, body, signature, signer_pem, created_at, created_by)"
                    " VALUES (%s,%s,%s,%s,%s,%s)",
                    (version, body, signature, signer_pem, created_at_us, created_by),
                )
            db.commit()
            return version
        except psycopg.Error as exc:
            db.rollback()
            raise StoreError(f"cannot store policy: {exc}") from exc

    def current_policy(self) -> PolicyRecord | None:
        """The newest policy version."""
        rows = self._run(
            "SELECT version, body, signature, signer_pem, created_at, created_by FROM policies"
            " ORDER BY version DESC LIMIT 1",
            (),
        )
        if not rows:
            return None
        r = rows[0]
        return PolicyRecord(r[0], bytes(r[1]), bytes(r[2]), bytes(r[3]), r[4], r[5])

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        db = self._db()
        try:
            with db.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall() if cur.description else []
            db.commit()
            return rows
        except psycopg.Error as exc:
            db.rollback()
            raise StoreError(str(exc)) from exc
