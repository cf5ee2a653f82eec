"""Schema versions: one list of migrations for both dialects, applied in one locked transaction.

A database runs the steps after its version, in order, inside the
dialect's migration transaction (SQLite: the file's writer lock; PostgreSQL: an advisory lock,
so two collectors running `migrate` at once apply each step once). The version lives where it
always did: ``PRAGMA user_version`` on SQLite, ``caseguard_schema`` on PostgreSQL.

Versions 1 to 4 were written separately for each database (and in a different order: SQLite
added the console before enrolment, PostgreSQL after). Step 5 brings any of them to the shared
definition: it creates the tables and indexes a database lacks and converts the two table shapes
that differed (SQLite's sequence_gaps key, PostgreSQL's unique constraint on wf_audit.seq).
tests/contract/test_schema_upgrade.py builds databases with the frozen version-4 SQL and
checks that every row survives and the schema ends up exactly as a new database's.

A simple list rather than Alembic: the stores need no autogeneration or downgrades, the
migration must run inside the dialect's own lock (and SQLite's migrate-on-open), and a step is a
few lines of SQL. A later step that changes a table must also freeze that table's old shape for
step 5 (which creates missing tables from the current definition).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collector.store.base import StoreError
from collector.store.database import Database
from collector.store.dialects import LockFailed, SqlDialect
from collector.store.schema import create_index_sql, create_table_sql, metadata


class SchemaOutOfDate(StoreError):
    """The database needs `caseguard-collector migrate` (or is newer than this collector)."""


class SchemaUnknown(StoreError):
    """The database holds Caseguard tables but no readable schema version: it is not migrated blindly."""


RESTORE_ADVICE = "restore it from a backup, then run `caseguard-collector db check`"


Step = Callable[[Any, SqlDialect], None]


def _shared_definition(cur: Any, dialect: SqlDialect) -> None:
    """Step 5: from any earlier version (or none), to the one definition in ``schema``."""
    dialect.upgrade_v4_shapes(cur, dialect.table_columns(cur))
    _missing_tables(cur, dialect)


def _missing_tables(cur: Any, dialect: SqlDialect) -> None:
    """Step 7 (and the end of step 5): create every table and index of ``schema`` a database lacks.

    The tables added since version 6 (workflow quarantine, sign-in throttles, notice claims) are
    new tables, so this one step brings a version-6 database to them.
    """
    tables = dialect.table_columns(cur)
    for table in metadata.sorted_tables:
        if table.name not in tables:
            for statement in create_table_sql(table, dialect.sa_dialect):
                cur.execute(statement)
    indexes = dialect.index_names(cur)
    for table in metadata.sorted_tables:
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            if index.name not in indexes:
                cur.execute(create_index_sql(index, dialect.sa_dialect))


def _epochs_and_breach_index(cur: Any, dialect: SqlDialect) -> None:
    """Step 6: devices.outbox_epoch (a replaced agent outbox restarts its numbering), and the
    breach workflow's partial index rebuilt for the kinds it reads now.

    Step 5 creates missing tables from the current definition, so a database that came through
    it already has the column; one at version 5 gets it here.
    """
    if "outbox_epoch" not in dialect.table_columns(cur).get("devices", set()):
        cur.execute("ALTER TABLE devices ADD COLUMN outbox_epoch TEXT NOT NULL DEFAULT ''")
    cur.execute("DROP INDEX IF EXISTS wf_events_breach")
    cur.execute(create_index_sql(_index("events", "wf_events_breach"), dialect.sa_dialect))


def _index(table: str, name: str) -> Any:
    return next(i for i in metadata.tables[table].indexes if i.name == name)


# MIGRATIONS[n] brings a database from version n to n + 1. Steps 1-4 were per-dialect SQL and
# are retired: step 5 reaches the same end from any of them.
MIGRATIONS: tuple[Step | None, ...] = (
    None, None, None, None, _shared_definition, _epochs_and_breach_index, _missing_tables,
)
SCHEMA_VERSION = len(MIGRATIONS)


def judge_version(rows: list[Any] | None, has_tables: Callable[[], bool], where: str) -> int:
    """The schema version ``rows`` record (0: a fresh database), or the error that refuses them.

    A version is refused when it is newer than this collector, when it is not a whole number
    from 0 up, when several are recorded, or when Caseguard's tables exist without one (a
    header or version table damaged or edited: migrating it blindly could rewrite good data).
    """
    if len(rows or []) > 1:
        raise SchemaUnknown(f"{where}: {len(rows or [])} schema versions are recorded, not one; {RESTORE_ADVICE}")
    value = (rows or [0])[0]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SchemaUnknown(f"{where}: the schema version record is garbled ({str(value)[:40]!r}); {RESTORE_ADVICE}")
    if value > SCHEMA_VERSION:
        raise SchemaOutOfDate(
            f"{where}: schema version {value} is newer than this collector understands ({SCHEMA_VERSION}): "
            "run the collector version that wrote it, or restore a backup made by this one"
        )
    if value == 0 and has_tables():
        raise SchemaUnknown(f"{where}: Caseguard's tables are there but their schema version is missing; "
                            f"{RESTORE_ADVICE}")
    return value


def read_version(cur: Any, dialect: SqlDialect) -> int:
    """The database's schema version, judged by ``judge_version``."""

    def has_tables() -> bool:
        return bool(set(dialect.table_columns(cur)) & set(metadata.tables))

    return judge_version(dialect.schema_version_rows(cur), has_tables, dialect.where())


def schema_version(database: Database) -> int:
    """The database's applied schema version (0 for an empty database)."""
    with database.snapshot() as tx:
        return read_version(tx.cursor, database.dialect)


def require_current(database: Database) -> None:
    """Refuse a database whose schema is not exactly this collector's."""
    version = schema_version(database)
    if version != SCHEMA_VERSION:
        raise SchemaOutOfDate(
            f"database schema is version {version}, this collector needs {SCHEMA_VERSION}: "
            "run `caseguard-collector migrate --database-url ...`"
        )


def migrate(database: Database) -> tuple[int, int]:
    """Apply pending migrations in one transaction; returns (from, to) versions."""
    dialect = database.dialect
    try:
        with dialect.migration_transaction(database.connection()) as cur:
            start = read_version(cur, dialect)
            for number in range(start, SCHEMA_VERSION):
                step = MIGRATIONS[number]
                if step is not None:
                    step(cur, dialect)
            if start != SCHEMA_VERSION:
                dialect.write_schema_version(cur, SCHEMA_VERSION)
    except dialect.driver_error as exc:
        raise StoreError(f"migration to schema {SCHEMA_VERSION} failed: {dialect.reason(exc)}") from exc
    except LockFailed as exc:
        raise StoreError(f"migration could not take its lock: {exc}") from exc
    return start, SCHEMA_VERSION
