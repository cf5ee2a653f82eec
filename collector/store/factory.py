"""Choosing the store once, at start-up: SQLite in --data-dir by default, PostgreSQL by URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from collector.store.base import IngestBounds, Store, StoreError
from collector.store.dialects import PostgresDialect, SqlDialect, SQLiteDialect
from collector.store.enrollment_base import EnrollmentStore
from collector.store.workflow_base import WorkflowStore

if TYPE_CHECKING:
    from collector.store.integrity import DatabaseReport

SQLITE_FILE = "collector.sqlite3"
SETTLE_S = 60.0  # PostgreSQL: how long an event id must have been visible before the cursor passes it


@dataclass(frozen=True)
class StoreSettings:
    """How the collector's stores bound their work ([database] in collector.toml)."""

    settle_s: float = SETTLE_S
    ingest: IngestBounds = field(default_factory=IngestBounds)


def open_dialect(data_dir: Path, database_url: str | None = None) -> SqlDialect:
    """The database this collector uses: ``--database-url`` (PostgreSQL) or the SQLite file in ``data_dir``."""
    if database_url:
        if not database_url.startswith(("postgresql://", "postgres://")):
            raise StoreError("--database-url must be a postgresql:// URL")
        return PostgresDialect(database_url)
    return SQLiteDialect(data_dir / SQLITE_FILE)


def open_store(data_dir: Path, database_url: str | None = None, settings: StoreSettings | None = None) -> Store:
    """The store for this collector. PostgreSQL requires a migrated schema (`caseguard-collector migrate`)."""
    from collector.store.events import PostgresStore, SQLiteStore

    bounds = (settings or StoreSettings()).ingest
    if database_url:
        open_dialect(data_dir, database_url)  # checks the URL
        return PostgresStore(database_url, bounds=bounds)
    return SQLiteStore(data_dir / SQLITE_FILE, bounds=bounds)


def open_workflow_store(
    data_dir: Path, database_url: str | None = None, settings: StoreSettings | None = None
) -> WorkflowStore:
    """The breach workflow's store, in the same database as the events (PostgreSQL: a migrated schema)."""
    from collector.store.workflow import PostgresWorkflowStore, SQLiteWorkflowStore

    if database_url:
        open_dialect(data_dir, database_url)  # checks the URL
        return PostgresWorkflowStore(database_url, settle_s=(settings or StoreSettings()).settle_s)
    return SQLiteWorkflowStore(data_dir / SQLITE_FILE)


def open_enrollment_store(data_dir: Path, database_url: str | None = None) -> EnrollmentStore:
    """Enrolment tokens and policy versions, in the same database as the events."""
    from collector.store.enrollment import PostgresEnrollmentStore, SQLiteEnrollmentStore

    if database_url:
        return PostgresEnrollmentStore(database_url)
    return SQLiteEnrollmentStore(data_dir / SQLITE_FILE)


def check_database(data_dir: Path, database_url: str | None = None, *, thorough: bool = False) -> DatabaseReport:
    """Check the collector's database before it is served (see ``collector.store.integrity``)."""
    from collector.store.integrity import check_database as check

    return check(open_dialect(data_dir, database_url), thorough=thorough)


def migrate(data_dir: Path, database_url: str | None = None) -> tuple[int, int]:
    """Bring the schema up to date; returns (from, to) versions."""
    from collector.store.database import Database
    from collector.store.migrations import migrate as apply_migrations

    database = Database(open_dialect(data_dir, database_url))
    try:
        return apply_migrations(database)
    finally:
        database.close()
