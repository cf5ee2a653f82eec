"""One database connection per thread, for every store class (SQLite file or PostgreSQL URL).

sqlite3 and psycopg connections must not be shared between threads in use, and the collector
serves gRPC, the console and the workflow from thread pools. Each store keeps a
``ThreadConnections`` and asks it for this thread's connection; ``close_all`` closes every
connection it ever made.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

import psycopg

C = TypeVar("C")


class ThreadConnections(Generic[C]):
    """Makes a connection the first time each thread asks, and remembers them all for closing."""

    def __init__(self, connect: Callable[[], C], close: Callable[[C], None], usable: Callable[[C], bool]) -> None:
        self._connect = connect
        self._close = close
        self._usable = usable
        self._local = threading.local()
        self._all: list[C] = []
        self._lock = threading.Lock()

    def get(self) -> C:
        """This thread's connection (a new one if it has none, or its old one broke)."""
        conn: C | None = getattr(self._local, "conn", None)
        if conn is None or not self._usable(conn):
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close_all(self) -> None:
        """Close every connection made so far."""
        with self._lock:
            for conn in self._all:
                self._close(conn)
            self._all.clear()
        self._local = threading.local()


def sqlite_connections(
    path: Path, *, cache_kib: int | None = None, timeout_s: float = 30.0
) -> ThreadConnections[sqlite3.Connection]:
    """Per-thread autocommit connections to the collector's SQLite file: WAL, synchronous=FULL, busy timeout."""

    def connect() -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout_s)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss
        db.execute(f"PRAGMA busy_timeout={max(1, round(timeout_s * 1000))}")
        db.execute("PRAGMA foreign_keys=ON")
        if cache_kib is not None:
            db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        return db

    return ThreadConnections(connect, lambda db: db.close(), lambda db: True)


def postgres_connections(
    url: str,
    *,
    autocommit: bool = False,
    on_connect: Callable[[psycopg.Connection[Any]], object] | None = None,
) -> ThreadConnections[psycopg.Connection[Any]]:
    """Per-thread PostgreSQL connections (a failed connect raises psycopg's error; the store translates it)."""

    def connect() -> psycopg.Connection[Any]:
        db = psycopg.connect(url, autocommit=autocommit)
        try:
            if on_connect is not None:
                on_connect(db)
        except BaseException:
            db.close()
            raise
        return db

    return ThreadConnections(connect, lambda db: db.close(), lambda db: not db.closed)
