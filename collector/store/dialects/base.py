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

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.engine import Dialect as SaDialect

from collector.errors import CollectorError
from collector.store.base import IncomingEvent
from collector.store.connections import ThreadConnections


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
    def schema_version_rows(self, cur: Any) -> list[Any] | None:
        """The recorded schema version as stored, unjudged (None: nowhere to record one yet).

        ``collector.store.migrations.read_version`` decides what they mean: a fresh database,
        a version, or a record that is missing or garbled.
        """

    def damage(self, cur: Any, *, thorough: bool = False) -> list[str]:
        """What the database engine itself finds broken in the stored pages ([] when sound).

        ``thorough`` asks for the slow full check where the engine has one. The default finds
        nothing: PostgreSQL guards its own pages (and reports a damaged one on the read).
        """
        return []

    def is_damage(self, exc: BaseException) -> bool:
        """Whether a driver error says the stored data is damaged (not busy, not unreachable)."""
        return False

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

    @abstractmethod
    def statement_deadline(self, cur: Any, seconds: float) -> AbstractContextManager[None]:
        """Bound every statement on ``cur``'s transaction to ``seconds`` while the block runs."""

    @abstractmethod
    def timed_out(self, exc: BaseException | None) -> bool:
        """True when a driver error is a statement or lock timeout (retry later; nothing stored)."""

    def reason(self, exc: BaseException) -> str:
        """The driver's message, fit for a log (no key values, no rows)."""
        return str(exc)


class LockFailed(CollectorError):
    """A transaction could not take its locks in time (wrapped by the store's own error)."""
