"""One database behind a dialect: per-thread connections, transactions, and errors translated once.

Every store (events, workflow, console, enrolment) holds a ``Database`` and writes its queries
once, with ``?`` placeholders. ``rows``/``one``/``run`` outside a transaction are single
statements in autocommit; ``transaction()`` is one durable write transaction (with an advisory
lock where a class of writers must run one at a time) and ``snapshot()`` several reads seen
consistently. Driver errors never leave this module: they become the store's own error class
(``Failure``), with the driver's message reduced to what is fit for a log.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

from collector.store.base import StoreError
from collector.store.dialects import LockFailed, SqlDialect

LOCK_TIMEOUT_S = 30.0  # the longest wait for a lock (SQLite's busy timeout, PostgreSQL's lock_timeout)


@dataclass(frozen=True)
class Failure:
    """How a store words its failures: its error class and the start of each message."""

    error: type[StoreError] = StoreError
    failed: str = "storage failed"
    refused: str = "refused by the database"
    busy: str = "storage is busy or unavailable"


class Tx:
    """Statements on one connection, inside a transaction (or a snapshot) the ``Database`` opened."""

    def __init__(self, database: Database, cursor: Any) -> None:
        self._database = database
        self.cursor = cursor  # the driver's cursor, for the few hot paths that need it

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement; how many rows it changed."""
        try:
            self.cursor.execute(self._database.dialect.sql(sql), params)
            return int(self.cursor.rowcount)
        except self._database.dialect.driver_error as exc:
            self._database.fail(exc)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute one statement for each of ``rows`` (the driver's executemany)."""
        if not rows:
            return
        try:
            self.cursor.executemany(self._database.dialect.sql(sql), rows)
        except self._database.dialect.driver_error as exc:
            self._database.fail(exc)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a query."""
        try:
            self.cursor.execute(self._database.dialect.sql(sql), params)
            return list(self.cursor.fetchall())
        except self._database.dialect.driver_error as exc:
            self._database.fail(exc)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        rows = self.rows(sql, params)
        return rows[0] if rows else None


class Database:
    """A SQLite file or a PostgreSQL database, reached through ``dialect``; one connection per thread."""

    def __init__(self, dialect: SqlDialect, *, failure: Failure | None = None, lock_timeout_s: float = LOCK_TIMEOUT_S):
        self.dialect = dialect
        self.failure = failure or Failure()
        self._conns = dialect.connections(lock_timeout_s)

    # -- connections and errors --------------------------------------------------------

    def connection(self) -> Any:
        """This thread's driver connection (a new one after the old one broke)."""
        try:
            return self._conns.get()
        except self.dialect.driver_error as exc:
            raise self.failure.error(f"cannot connect to {self.dialect.where()}: {self.dialect.reason(exc)}") from exc

    def fail(self, exc: BaseException) -> NoReturn:
        """Raise the store's own error for a driver error."""
        prefix = self.failure.refused if isinstance(exc, self.dialect.integrity_error) else self.failure.failed
        raise self.failure.error(f"{prefix}: {self.dialect.reason(exc)}") from exc

    def close(self) -> None:
        """Close every connection this database opened."""
        self._conns.close_all()

    # -- single statements (autocommit) ------------------------------------------------

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement, committed on its own; how many rows it changed."""
        try:
            cur = self.connection().execute(self.dialect.sql(sql), params)
            return int(cur.rowcount)
        except self.dialect.driver_error as exc:
            self.fail(exc)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of one query."""
        try:
            return list(self.connection().execute(self.dialect.sql(sql), params).fetchall())
        except self.dialect.driver_error as exc:
            self.fail(exc)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of one query, or None."""
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Sequence[Any]]:
        """The rows of a possibly long query, fetched in pieces."""
        try:
            yield from self.dialect.stream(self.connection(), self.dialect.sql(sql), params)
        except self.dialect.driver_error as exc:
            self.fail(exc)

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def transaction(self, lock: int | None = None) -> Iterator[Tx]:
        """One write transaction (advisory lock ``lock`` first, where the dialect has them).

        Commits when the block ends, rolls back on any error. Nested use on one thread is refused.
        """
        db = self.connection()
        if self.dialect.in_transaction(db):
            raise self.failure.error("a transaction is already open on this thread")
        try:
            with self.dialect.write_transaction(db, lock) as cur:
                yield Tx(self, cur)
        except LockFailed as exc:
            raise self.failure.error(f"{self.failure.busy}: {exc}") from exc
        except self.dialect.driver_error as exc:
            self.fail(exc)

    @contextmanager
    def snapshot(self) -> Iterator[Tx]:
        """Several reads that see one consistent state (SQLite) or each other's commits (PostgreSQL)."""
        db = self.connection()
        try:
            with self.dialect.read_transaction(db) as cur:
                yield Tx(self, cur)
        except self.dialect.driver_error as exc:
            self.fail(exc)
