"""SQLite: one file, WAL, synchronous=FULL, one writer at a time (``BEGIN IMMEDIATE``)."""

from __future__ import annotations

import operator
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import sqlite as sa_sqlite
from sqlalchemy.engine import Dialect as SaDialect

from collector.store.base import IncomingEvent
from collector.store.connections import ThreadConnections, sqlite_connections
from collector.store.dialects.base import LockFailed, SqlDialect
from collector.store.schema import create_table_sql, sequence_gaps

# IncomingEvent's first six fields, in order, as event columns (the ingest rows are their slices).
_EVENT_FIELDS = "event_id, seq, kind, occurred_at, agent_version, body"
_EVENT_ROW = operator.itemgetter(0, 1, 2, 3, 4, 5)
_IN_CHUNK = 900  # ids per lookup, under SQLite's oldest variable limit
_DAMAGE_LINES = 10  # problems a check lists before it stops (the first says enough to act)


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

    @contextmanager
    def statement_deadline(self, cur: sqlite3.Cursor, seconds: float) -> Iterator[None]:
        """A progress handler that interrupts any statement still running at the deadline."""
        deadline = time.monotonic() + seconds
        db = cur.connection
        db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            yield
        finally:
            db.set_progress_handler(None, 0)

    def timed_out(self, exc: BaseException | None) -> bool:
        """An interrupted statement, or the file's lock not had within the busy timeout."""
        if not isinstance(exc, sqlite3.OperationalError):
            return False
        text = str(exc)
        return "interrupted" in text or "database is locked" in text

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

    def schema_version_rows(self, cur: sqlite3.Cursor) -> list[Any] | None:
        """PRAGMA user_version (SQLite's file header always holds one: 0 until it is set)."""
        return [cur.execute("PRAGMA user_version").fetchone()[0]]

    def damage(self, cur: sqlite3.Cursor, *, thorough: bool = False) -> list[str]:
        """``PRAGMA quick_check`` (or the slower ``integrity_check``, which also checks index contents)."""
        pragma = "integrity_check" if thorough else "quick_check"
        rows = [str(r[0]) for r in cur.execute(f"PRAGMA {pragma}({_DAMAGE_LINES})").fetchall()]
        if rows == ["ok"]:
            return []
        # One row may hold several lines under a "*** in database main ***" heading.
        lines = [line.strip() for row in rows for line in row.splitlines()]
        return [line for line in lines if line and not line.startswith("***")]

    def is_damage(self, exc: BaseException) -> bool:
        """SQLITE_CORRUPT ("database disk image is malformed") and SQLITE_NOTADB ("file is not a database")."""
        name = str(getattr(exc, "sqlite_errorname", ""))
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))

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
