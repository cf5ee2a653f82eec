"""Every storage backend runs the same contract suite: SQLite and a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.store.base import Store
from collector.store.postgres import PostgresStore
from collector.store.sqlite import SQLiteStore
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
