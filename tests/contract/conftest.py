"""Every storage backend runs the same contract suite: SQLite and a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from collector.store.base import Store
from collector.store.events import PostgresStore, SQLiteStore
from collector.store.workflow import SETTLE_S, PostgresWorkflowStore, SQLiteWorkflowStore
from collector.store.workflow_base import WorkflowStore
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
    would); ``execute`` runs raw SQL (literals only) outside the store, for tampering;
    ``settle`` lets the time pass after which PostgreSQL's event reader trusts that no lower
    event id is still in flight (nothing to wait for in SQLite, whose writers are serialised).
    """

    name: str
    events: Store
    store: WorkflowStore
    open_store: Callable[[], WorkflowStore]
    execute: Callable[[str], None]
    settle: Callable[[], None] = lambda: None


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

    clock = [1000.0]

    def open_pg() -> WorkflowStore:
        return track(PostgresWorkflowStore(url, monotonic=lambda: clock[0]))

    def settle() -> None:
        clock[0] += SETTLE_S + 1

    yield WorkflowBackend("postgres", pg, open_pg(), open_pg, pg_execute, settle)
    for s in opened:
        s.close()
    pg.close()
    drop_database(server_url, url)


@pytest.fixture
def settle(workflow_backend: WorkflowBackend) -> Callable[[], None]:
    """Let event ids settle (see WorkflowBackend.settle)."""
    return workflow_backend.settle


@pytest.fixture
def workflow_store(workflow_backend: WorkflowBackend) -> WorkflowStore:
    """The breach workflow's store, on SQLite and on PostgreSQL."""
    return workflow_backend.store
