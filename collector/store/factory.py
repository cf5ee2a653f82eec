"""Choosing the store once, at start-up: SQLite in --data-dir by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path

from collector.store.base import Store, StoreError
from collector.store.enrollment_base import EnrollmentStore
from collector.store.workflow_base import WorkflowStore

SQLITE_FILE = "collector.sqlite3"


def open_store(data_dir: Path, database_url: str | None = None) -> Store:
    """The store for this collector. PostgreSQL requires a migrated schema (`caseguard-collector migrate`)."""
    if database_url:
        if not database_url.startswith(("postgresql://", "postgres://")):
            raise StoreError("--database-url must be a postgresql:// URL")
        from collector.store.postgres import PostgresStore

        return PostgresStore(database_url)
    from collector.store.sqlite import SQLiteStore

    return SQLiteStore(data_dir / SQLITE_FILE)


def open_workflow_store(data_dir: Path, database_url: str | None = None) -> WorkflowStore:
    """The breach workflow's store, in the same database as the events (PostgreSQL: a migrated schema)."""
    if database_url:
        if not database_url.startswith(("postgresql://", "postgres://")):
            raise StoreError("--database-url must be a postgresql:// URL")
        from collector.store.workflow_postgres import PostgresWorkflowStore

        return PostgresWorkflowStore(database_url)
    from collector.store.workflow_sqlite import SQLiteWorkflowStore

    return SQLiteWorkflowStore(data_dir / SQLITE_FILE)


def open_enrollment_store(data_dir: Path, database_url: str | None = None) -> EnrollmentStore:
    """Enrolment tokens and policy versions, in the same database as the events."""
    if database_url:
        from collector.store.enrollment_postgres import PostgresEnrollmentStore

        return PostgresEnrollmentStore(database_url)
    from collector.store.enrollment_sqlite import SQLiteEnrollmentStore

    return SQLiteEnrollmentStore(data_dir / SQLITE_FILE)


def migrate(data_dir: Path, database_url: str | None = None) -> tuple[int, int]:
    """Bring the schema up to date; returns (from, to) versions."""
    if database_url:
        from collector.store.postgres import PostgresStore

        pg = PostgresStore(database_url, require_current_schema=False)
        try:
            return pg.migrate()
        finally:
            pg.close()
    from collector.store.sqlite import SQLiteStore
    from collector.store.sqlite_schema import MIGRATIONS

    path = data_dir / SQLITE_FILE
    import sqlite3

    before = 0
    if path.exists():
        db = sqlite3.connect(path)
        before = int(db.execute("PRAGMA user_version").fetchone()[0])
        db.close()
    SQLiteStore(path).close()  # SQLite migrates on open (one process owns the file)
    return before, len(MIGRATIONS)
