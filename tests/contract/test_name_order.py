"""Device lists come in code-point order on both databases, whatever PostgreSQL's locale.

The two store copies had drifted: SQLite listed devices by code point (its BINARY collation),
PostgreSQL in the database's locale order, so `devices list` and the workflow's device checks
came out in a different order on an English-locale PostgreSQL database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from collector.store.events import PostgresStore
from collector.store.workflow import PostgresWorkflowStore
from tests.postgres_server import drop_database

NAMES = ["LAPTOP-a-b", "LAPTOP-a.c", "LAPTOP-a0", "LAPTOP-a_b", "LAPTOP-ab"]  # code-point order


@pytest.fixture
def english_locale_url(postgres_server_url: str) -> Iterator[str]:
    name = f"caseguard_icu_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en'")
    url = postgres_server_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url) as db:  # the trap: this database's own order differs
        assert [r[0] for r in db.execute("SELECT unnest(%s::text[]) n ORDER BY n", [NAMES])] != NAMES
    yield url
    drop_database(postgres_server_url, url)


def test_postgres_lists_devices_in_code_point_order(english_locale_url: str) -> None:
    store = PostgresStore(english_locale_url, require_current_schema=False)
    store.migrate()
    workflow = PostgresWorkflowStore(english_locale_url)
    try:
        for n in reversed(NAMES):
            store.register_device(n, f"fp-{n}", 1)
        assert [d.name for d in store.list_devices()] == NAMES
        assert [d.name for d in workflow.device_activity()] == NAMES
    finally:
        workflow.close()
        store.close()
