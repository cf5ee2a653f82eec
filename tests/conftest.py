"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from tests.postgres_server import PostgresServer, PostgresUnavailable

THREAD_JOIN_GRACE_S = 5.0  # time for threads a test stopped to finish; a slow, shared CI machine needs some


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves any thread it started (daemon or not) still running after it.

    Threads started by wider-scoped fixtures (a session's PostgreSQL, say) are set up before this
    function-scoped fixture takes its snapshot, so they are not counted against the test.
    """
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + THREAD_JOIN_GRACE_S
    leaked = [t for t in threading.enumerate() if t not in before]
    for thread in leaked:
        thread.join(max(0.0, deadline - time.monotonic()))
    leaked = [t for t in leaked if t.is_alive()]
    if leaked:
        names = ", ".join(sorted(f"{t.name}{' (daemon)' if t.daemon else ''}" for t in leaked))
        pytest.fail(f"the test left {len(leaked)} thread(s) running: {names}", pytrace=False)


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
