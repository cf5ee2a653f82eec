"""Every storage backend runs the same contract suite: SQLite and a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from collector.store.base import Store
from collector.store.postgres import PostgresStore
from collector.store.sqlite import SQLiteStore
from collector.store.workflow_base import WorkflowStore
from collector.store.workflow_postgres import PostgresWorkflowStore
from collector.store.workflow_sqlite import SQLiteWorkflowStore
from tests.postgres_server import create_database, drop_database


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s: Store = SQLiteStore(tmp_path / "collector.sqlite3")
        yield s
        s.close()
        return
    server_url: str = request.getfixturevalue("postgres_server_url")
    url = create_database(server_url)
    pg = PostgresStore(url, require_current_schema=False)
    pg.migrate()
    yield pg
    pg.close()
    drop_database(server_url, url)


@dataclass
class WorkflowBackend:
    """A workflow store with the event store over the same database, and ways to reach that database.

    ``open_store`` opens another workflow store on the same database (as another collector
    would); ``execute`` runs raw SQL (literals only) outside the store, for tampering.
    """

    name: str
    events: Store
    store: WorkflowStore
    open_store: Callable[[], WorkflowStore]
    execute: Callable[[str], None]


@pytest.fixture(params=["sqlite", "postgres"])
def workflow_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WorkflowBackend]:
    opened: list[WorkflowStore] = []

    def track(store: WorkflowStore) -> WorkflowStore:
        opened.append(store)
        return store

    if request.param == "sqlite":
        path = tmp_path / "collector.sqlite3"
        events: Store = SQLiteStore(path)

        def sqlite_execute(sql: str) -> None:
            db = sqlite3.connect(path, timeout=30)
            try:
                db.executescript(sql)
            finally:
                db.close()

        yield WorkflowBackend(
            "sqlite", events, track(SQLiteWorkflowStore(path)), lambda: track(SQLiteWorkflowStore(path)), sqlite_execute
        )
        for s in opened:
            s.close()
        events.close()
        return
    server_url: str = request.getfixturevalue("postgres_server_url")
    url = create_database(server_url)
    pg = PostgresStore(url, require_current_schema=False)
    pg.migrate()

    def pg_execute(sql: str) -> None:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(sql)

    yield WorkflowBackend(
        "postgres", pg, track(PostgresWorkflowStore(url)), lambda: track(PostgresWorkflowStore(url)), pg_execute
    )
    for s in opened:
        s.close()
    pg.close()
    drop_database(server_url, url)


@pytest.fixture
def workflow_store(workflow_backend: WorkflowBackend) -> WorkflowStore:
    """The breach workflow's store, on SQLite and on PostgreSQL."""
    return workflow_backend.store
