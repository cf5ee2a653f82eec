"""What differs between SQLite and PostgreSQL, as small named hooks; everything else is shared SQL.

Every store is written once (events, workflow, console, enrolment) against a ``SqlDialect``.
Queries are written with ``?`` placeholders and the portable subset both databases accept
(``INSERT ... ON CONFLICT ... DO UPDATE/NOTHING``, ``NULLS FIRST``, ``IN (?, ?)``). The hooks
here are the parts that really differ:

- connecting (a file with WAL and synchronous=FULL, or a URL; lock waits bounded on both);
- write transactions and their locking: ``BEGIN IMMEDIATE`` takes SQLite's one writer lock;
  PostgreSQL takes row locks (``for_update``) and, where a whole class of writers must run one
  at a time (the workflow, policy numbering, migration), a transaction-scoped advisory lock;
- the ingest insert: ``executemany`` on SQLite, one ``INSERT ... SELECT FROM unnest(...)
  ... RETURNING`` per device batch on PostgreSQL (both at driver speed, no ORM in between);
- streaming a long result, the schema version's home, error messages, name ordering, and
  whether event ids become visible in id order (SQLite: yes, one writer; PostgreSQL: no).
"""

from __future__ import annotations

import functools
import itertools
import operator
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.dialects import sqlite as sa_sqlite
from sqlalchemy.engine import Dialect as SaDialect

from collector.store.base import IncomingEvent, StoreError
from collector.store.connections import ThreadConnections, postgres_connections, sqlite_connections

# The column order every ingest insert uses.
EVENT_INSERT_COLUMNS = "device, event_id, seq, kind, occurred_at, received_at, agent_version, body"
MIGRATION_LOCK = 0x63617365  # "case": one migrator at a time across collectors
# IncomingEvent's first six fields, in order, as event columns (the ingest rows are their slices).
_EVENT_FIELDS = "event_id, seq, kind, occurred_at, agent_version, body"
_EVENT_ROW = operator.itemgetter(0, 1, 2, 3, 4, 5)
_IN_CHUNK = 900  # ids per lookup, under SQLite's oldest variable limit
_CURSOR_NUMBERS = itertools.count(1)  # PostgreSQL server-side cursor names, unique per process


class SqlDialect(ABC):
    """One database engine: how to connect, lock, insert events in bulk, and say what went wrong."""

    name: str
    sa_dialect: SaDialect
    # ORDER BY suffix that sorts names by code point whatever the database's locale.
    by_code_point: str
    # SELECT suffix that locks the rows read until commit ("" where the write transaction
    # already excludes every other writer).
    for_update: str
    # True when a reader can never see event id n+1 committed while id n is still in flight.
    ids_visible_in_order: bool
    # True when opening a store brings the schema up to date (one process owns a SQLite file);
    # PostgreSQL is shared by collectors and is migrated by `caseguard-collector migrate`.
    migrates_on_open: bool
    driver_error: type[Exception]
    integrity_error: type[Exception]

    @abstractmethod
    def connections(self, lock_timeout_s: float) -> ThreadConnections[Any]:
        """Per-thread connections, in autocommit mode (transactions are always explicit)."""

    @abstractmethod
    def where(self) -> str:
        """The database, for messages (a path, or "PostgreSQL"; never a password)."""

    def sql(self, text: str) -> str:
        """``text`` with this driver's placeholders (written with ``?``)."""
        return text

    @abstractmethod
    def in_transaction(self, db: Any) -> bool:
        """True while ``db`` has a transaction open."""

    @abstractmethod
    def write_transaction(self, db: Any, lock: int | None = None) -> AbstractContextManager[Any]:
        """A write transaction on ``db`` yielding a cursor; ``lock`` names an advisory lock taken first.

        Raises ``LockFailed`` when the transaction's locks cannot be had; rolls back on any error.
        """

    @abstractmethod
    def read_transaction(self, db: Any) -> AbstractContextManager[Any]:
        """A read-only transaction (several queries, one consistent view) yielding a cursor."""

    @abstractmethod
    def stream(self, db: Any, sql: str, params: Sequence[Any] = ()) -> Iterator[Sequence[Any]]:
        """Rows of a possibly long query (``sql`` already in this driver's placeholders), fetched in pieces."""

    @abstractmethod
    def insert_new_events(
        self, cur: Any, device: str, events: Sequence[IncomingEvent], max_seq: int, received_at_us: int
    ) -> list[IncomingEvent]:
        """Insert the events not stored yet (idempotent on (device, event_id)); returns those, in order."""

    @abstractmethod
    def read_schema_version(self, cur: Any) -> int:
        """The applied schema version (0 for an empty database)."""

    @abstractmethod
    def write_schema_version(self, cur: Any, version: int) -> None:
        """Record the applied schema version (inside the migration transaction)."""

    @abstractmethod
    def migration_transaction(self, db: Any) -> AbstractContextManager[Any]:
        """The one transaction a migration runs in, excluding every other migrator; yields a cursor."""

    @abstractmethod
    def table_columns(self, cur: Any) -> dict[str, set[str]]:
        """Every table's column names (for migrations)."""

    @abstractmethod
    def index_names(self, cur: Any) -> set[str]:
        """Names of the indexes made by CREATE INDEX (for migrations)."""

    @abstractmethod
    def upgrade_v4_shapes(self, cur: Any, tables: dict[str, set[str]]) -> None:
        """Bring this dialect's own version-4 table shapes to the shared definition (migration 5)."""

    def reason(self, exc: BaseException) -> str:
        """The driver's message, fit for a log (no key values, no rows)."""
        return str(exc)


class LockFailed(Exception):
    """A transaction could not take its locks in time (wrapped by the store's own error)."""


# -- SQLite ------------------------------------------------------------------------------


class SQLiteDialect(SqlDialect):
    """One SQLite file: WAL, synchronous=FULL, one writer at a time (``BEGIN IMMEDIATE``)."""

    name = "sqlite"
    sa_dialect: SaDialect = sa_sqlite.dialect()
    by_code_point = ""  # SQLite compares text with memcmp (BINARY) already
    for_update = ""  # BEGIN IMMEDIATE already excludes every other writer
    ids_visible_in_order = True
    migrates_on_open = True
    driver_error = sqlite3.Error
    integrity_error = sqlite3.IntegrityError

    def __init__(self, path: Path, *, cache_kib: int | None = None) -> None:
        self.path = path
        self._cache_kib = cache_kib

    def connections(self, lock_timeout_s: float) -> ThreadConnections[sqlite3.Connection]:
        """Per-thread connections to the file (made on first use; the directory is created)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite_connections(self.path, cache_kib=self._cache_kib, timeout_s=lock_timeout_s)

    def where(self) -> str:
        """The file's path."""
        return str(self.path)

    def in_transaction(self, db: sqlite3.Connection) -> bool:
        """True inside BEGIN ... COMMIT."""
        return db.in_transaction

    @contextmanager
    def write_transaction(self, db: sqlite3.Connection, lock: int | None = None) -> Iterator[sqlite3.Cursor]:
        """``BEGIN IMMEDIATE`` (the file's one writer lock; ``lock`` is implied by it) ... ``COMMIT``."""
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise LockFailed(str(exc)) from exc
        try:
            yield db.cursor()
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    @contextmanager
    def read_transaction(self, db: sqlite3.Connection) -> Iterator[sqlite3.Cursor]:
        """``BEGIN`` (deferred: a read snapshot) ... ``COMMIT``."""
        db.execute("BEGIN")
        try:
            yield db.cursor()
        finally:
            if db.in_transaction:
                db.execute("COMMIT")

    def stream(self, db: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> Iterator[Sequence[Any]]:
        """The cursor itself (sqlite3 steps through rows as they are asked for)."""
        yield from db.execute(sql, params)

    def insert_new_events(
        self, cur: sqlite3.Cursor, device: str, events: Sequence[IncomingEvent], max_seq: int, received_at_us: int
    ) -> list[IncomingEvent]:
        """Look up the ids that may be stored already, then ``executemany`` the rest.

        Events numbered above the device's highest stored seq cannot have been stored yet
        (agents number in order), so only the others are looked up: redelivery after a crash
        is exactly those. ``ON CONFLICT DO NOTHING`` still guarantees idempotency.
        """
        ids = [e.event_id for e in events if e.seq <= max_seq]
        existing: set[str] = set()
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            cur.execute(
                f"SELECT event_id FROM events WHERE device = ? AND event_id IN ({','.join('?' * len(chunk))})",
                [device, *chunk],
            )
            existing.update(r[0] for r in cur.fetchall())
        if not existing and len({e.event_id for e in events}) == len(events):
            new = list(events)  # the common case: nothing redelivered, no repeats
        else:
            new = []
            for e in events:  # a repeat inside one group is new once
                if e.event_id not in existing:
                    existing.add(e.event_id)
                    new.append(e)
        if new:
            # The device and the time are the same for every row, so they are written into the
            # statement (quoted) and each row is just a slice of the event's own tuple: the writer
            # thread, which holds the GIL while it binds, builds no row of its own.
            cur.executemany(
                f"INSERT INTO events(device, received_at, {_EVENT_FIELDS})"
                f" VALUES ({_sql_text(device)}, {int(received_at_us)}, ?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                map(_EVENT_ROW, new),
            )
        return new

    def read_schema_version(self, cur: sqlite3.Cursor) -> int:
        """PRAGMA user_version."""
        return int(cur.execute("PRAGMA user_version").fetchone()[0])

    def write_schema_version(self, cur: sqlite3.Cursor, version: int) -> None:
        """PRAGMA user_version = n (transactional in SQLite)."""
        cur.execute(f"PRAGMA user_version = {int(version)}")

    def migration_transaction(self, db: sqlite3.Connection) -> AbstractContextManager[Any]:
        """The writer lock excludes other migrators (and every other writer) too."""
        return self.write_transaction(db)

    def table_columns(self, cur: sqlite3.Cursor) -> dict[str, set[str]]:
        """From sqlite_schema and PRAGMA table_info."""
        names = [r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
        return {n: {r[1] for r in cur.execute(f'PRAGMA table_info("{n}")').fetchall()} for n in names}

    def index_names(self, cur: sqlite3.Cursor) -> set[str]:
        """Named indexes (not the automatic ones behind UNIQUE and PRIMARY KEY)."""
        rows = cur.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()
        return {r[0] for r in rows}

    def upgrade_v4_shapes(self, cur: sqlite3.Cursor, tables: dict[str, set[str]]) -> None:
        """SQLite's version 4 keyed sequence_gaps by (device, first_seq, explained): rebuild it with an id.

        SQLite cannot change a table's key in place, so the rows move to a new table (gaps are
        few: one row per hole in a device's sequence).
        """
        from collector.store.schema import create_table_sql, sequence_gaps

        if "sequence_gaps" in tables and "id" not in tables["sequence_gaps"]:
            cur.execute("ALTER TABLE sequence_gaps RENAME TO sequence_gaps_v4")
            for statement in create_table_sql(sequence_gaps, self.sa_dialect):
                cur.execute(statement)
            cur.execute(
                "INSERT INTO sequence_gaps(device, first_seq, last_seq, detected_at, explained)"
                " SELECT device, first_seq, last_seq, detected_at, explained FROM sequence_gaps_v4"
                " ORDER BY device, first_seq, explained"
            )
            cur.execute("DROP TABLE sequence_gaps_v4")


def _sql_text(value: str) -> str:
    """``value`` as an SQL string literal (a NUL is refused by sqlite3 itself, loudly)."""
    return "'" + value.replace("'", "''") + "'"


@functools.lru_cache(maxsize=1024)
def _pyformat(text: str) -> str:
    return text.replace("%", "%%").replace("?", "%s")


# -- PostgreSQL --------------------------------------------------------------------------


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

    def read_schema_version(self, cur: psycopg.Cursor[Any]) -> int:
        """caseguard_schema.version (0 when the table is missing or empty)."""
        cur.execute("SELECT to_regclass('caseguard_schema')")
        row = cur.fetchone()
        if row is None or row[0] is None:
            return 0
        cur.execute("SELECT version FROM caseguard_schema")
        got = cur.fetchone()
        return int(got[0]) if got else 0

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

    def reason(self, exc: BaseException) -> str:
        """PostgreSQL's primary message only: its detail line quotes key values (account names)."""
        if isinstance(exc, psycopg.Error) and exc.diag.message_primary:
            return exc.diag.message_primary
        first = str(exc).strip().splitlines()
        return first[0] if first else type(exc).__name__
