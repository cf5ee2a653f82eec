"""PostgreSQL: a database several collectors share; row locks, advisory locks, durable commits."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.engine import Dialect as SaDialect

from collector.store.base import IncomingEvent, StoreError
from collector.store.connections import ThreadConnections, postgres_connections
from collector.store.dialects.base import LockFailed, SqlDialect

# The column order of the ingest insert.
EVENT_INSERT_COLUMNS = "device, event_id, seq, kind, occurred_at, received_at, agent_version, body"
MIGRATION_LOCK = 0x63617365  # "case": one migrator at a time across collectors
_CURSOR_NUMBERS = itertools.count(1)  # server-side cursor names, unique per process


@functools.lru_cache(maxsize=1024)
def _pyformat(text: str) -> str:
    return text.replace("%", "%%").replace("?", "%s")


class PostgresDialect(SqlDialect):
    """A PostgreSQL database shared by several collectors: row locks, advisory locks, durable commits."""

    name = "postgresql"
    sa_dialect: SaDialect = sa_postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
    by_code_point = ' COLLATE "C"'  # order names by code point, as SQLite does, whatever the locale
    for_update = " FOR UPDATE"
    ids_visible_in_order = False  # ids are handed out at insert, not at commit
    migrates_on_open = False
    driver_error = psycopg.Error
    integrity_error = psycopg.IntegrityError

    def __init__(self, url: str) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise StoreError("--database-url must be a postgresql:// URL")
        self.url = url

    def connections(self, lock_timeout_s: float) -> ThreadConnections[psycopg.Connection[Any]]:
        """Autocommit connections with ``lock_timeout`` set (as SQLite's busy timeout)."""
        timeout = f"{max(1, round(lock_timeout_s * 1000))}ms"
        return postgres_connections(
            self.url,
            autocommit=True,
            on_connect=lambda db: db.execute("SELECT set_config('lock_timeout', %s, false)", (timeout,)),
        )

    def where(self) -> str:
        """Not the URL: it may carry a password."""
        return "PostgreSQL"

    def sql(self, text: str) -> str:
        """``?`` becomes ``%s`` (and a literal ``%`` becomes ``%%``), once per distinct statement."""
        return _pyformat(text)

    def in_transaction(self, db: psycopg.Connection[Any]) -> bool:
        """True unless the connection is idle."""
        return db.info.transaction_status != pq.TransactionStatus.IDLE

    @contextmanager
    def write_transaction(self, db: psycopg.Connection[Any], lock: int | None = None) -> Iterator[psycopg.Cursor[Any]]:
        """BEGIN, the advisory lock ``lock`` if given (held to commit), the work, COMMIT."""
        with db.transaction(), db.cursor() as cur:
            if lock is not None:
                try:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
                except psycopg.Error as exc:
                    raise LockFailed(self.reason(exc)) from exc
            yield cur

    @contextmanager
    def read_transaction(self, db: psycopg.Connection[Any]) -> Iterator[psycopg.Cursor[Any]]:
        """BEGIN ... COMMIT at READ COMMITTED (no lock on anything)."""
        with db.transaction(), db.cursor() as cur:
            yield cur

    def stream(self, db: psycopg.Connection[Any], sql: str, params: Sequence[Any] = ()) -> Iterator[Sequence[Any]]:
        """A server-side cursor (WITH HOLD: it outlives the autocommit statement), 1,000 rows at a time."""
        with db.cursor(name=f"caseguard_stream_{next(_CURSOR_NUMBERS)}", withhold=True) as cur:
            cur.itersize = 1000
            cur.execute(sql, params)
            yield from cur

    def insert_new_events(
        self,
        cur: psycopg.Cursor[Any],
        device: str,
        events: Sequence[IncomingEvent],
        max_seq: int,
        received_at_us: int,
    ) -> list[IncomingEvent]:
        """One statement per device batch: arrays in, the ids that were new out."""
        cur.execute(
            f"INSERT INTO events({EVENT_INSERT_COLUMNS})"
            " SELECT %s, * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bigint[], %s::bigint[],"
            " %s::text[], %s::bytea[])"
            " ON CONFLICT (device, event_id) DO NOTHING RETURNING event_id",
            (
                device,
                [e.event_id for e in events],
                [e.seq for e in events],
                [e.kind for e in events],
                [e.occurred_at_us for e in events],
                [received_at_us] * len(events),
                [e.agent_version for e in events],
                [e.body for e in events],
            ),
        )
        new_ids = {row[0] for row in cur.fetchall()}
        new: list[IncomingEvent] = []
        for e in events:  # a repeat inside one group is new once
            if e.event_id in new_ids:
                new_ids.discard(e.event_id)
                new.append(e)
        return new

    def schema_version_rows(self, cur: psycopg.Cursor[Any]) -> list[Any] | None:
        """Every row of caseguard_schema (None when the table is missing)."""
        cur.execute("SELECT to_regclass('caseguard_schema')")
        row = cur.fetchone()
        if row is None or row[0] is None:
            return None
        cur.execute("SELECT version FROM caseguard_schema")
        return [r[0] for r in cur.fetchall()]

    def write_schema_version(self, cur: psycopg.Cursor[Any], version: int) -> None:
        """One row in caseguard_schema."""
        cur.execute("UPDATE caseguard_schema SET version = %s", (version,))
        if cur.rowcount == 0:
            cur.execute("INSERT INTO caseguard_schema(version) VALUES (%s)", (version,))

    @contextmanager
    def migration_transaction(self, db: psycopg.Connection[Any]) -> Iterator[psycopg.Cursor[Any]]:
        """The migration advisory lock, then the version table (made on first use)."""
        with self.write_transaction(db, MIGRATION_LOCK) as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS caseguard_schema (version INTEGER NOT NULL)")
            yield cur

    def table_columns(self, cur: psycopg.Cursor[Any]) -> dict[str, set[str]]:
        """From information_schema, for the current schema."""
        cur.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        )
        found: dict[str, set[str]] = {}
        for table, column in cur.fetchall():
            found.setdefault(str(table), set()).add(str(column))
        return found

    def index_names(self, cur: psycopg.Cursor[Any]) -> set[str]:
        """Indexes not behind a constraint (those are part of their table's definition)."""
        cur.execute(
            "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " JOIN pg_namespace n ON n.oid = i.relnamespace"
            " WHERE n.nspname = current_schema()"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
        )
        return {str(r[0]) for r in cur.fetchall()}

    def upgrade_v4_shapes(self, cur: psycopg.Cursor[Any], tables: dict[str, set[str]]) -> None:
        """PostgreSQL's version 4 made wf_audit.seq unique by a constraint; the shared definition uses an index."""
        if "wf_audit" in tables:
            cur.execute("ALTER TABLE wf_audit DROP CONSTRAINT IF EXISTS wf_audit_seq_key")

    @contextmanager
    def statement_deadline(self, cur: psycopg.Cursor[Any], seconds: float) -> Iterator[None]:
        """``SET LOCAL statement_timeout`` (as ``set_config(..., true)``: ends with the transaction)."""
        cur.execute("SELECT set_config('statement_timeout', %s, true)", (f"{max(1, round(seconds * 1000))}ms",))
        yield

    def timed_out(self, exc: BaseException | None) -> bool:
        """A cancelled statement (statement_timeout) or a lock not had in time (lock_timeout)."""
        return isinstance(exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable)

    def reason(self, exc: BaseException) -> str:
        """PostgreSQL's primary message only: its detail line quotes key values (account names)."""
        if isinstance(exc, psycopg.Error) and exc.diag.message_primary:
            return exc.diag.message_primary
        first = str(exc).strip().splitlines()
        return first[0] if first else type(exc).__name__
