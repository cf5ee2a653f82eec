"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.postgres_server import PostgresServer, PostgresUnavailable


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A running PostgreSQL server: the one scripts/test.sh started, or one of our own."""
    url = os.environ.get("CASEGUARD_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.start()
    finally:
        server.stop()
