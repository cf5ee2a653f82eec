"""Checking a damaged outbox, moving it aside and saving what can still be read from it.

The outbox (agent/outbox.py) uses these when ``PRAGMA quick_check`` fails at open, or when SQLite
reports corruption while running. The damaged file is never deleted: it is renamed to
``<name>.damaged-<UTC time>`` (with its -wal and -shm files) for forensics. What can still be
read (the epoch and next seq, each undelivered row on a readable page, the shed and dead-letter
bookkeeping) is copied into the fresh file, row by row, so one bad page costs only its own rows.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_CORRUPTION_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


@dataclass(frozen=True)
class Salvage:
    """What came out of a damaged outbox."""

    epoch: str | None  # None: unreadable, so the fresh outbox starts a new epoch
    next_seq: int | None
    copied: int  # undelivered events carried over
    expected: int | None  # undelivered events it held, if its depth counter could be read

    @property
    def lost(self) -> int | None:
        """How many undelivered events may be lost (None: not known)."""
        if self.epoch is None:
            return self.expected
        return None if self.expected is None else max(0, self.expected - self.copied)


def is_corruption(exc: BaseException) -> bool:
    """Whether an SQLite error means the file is damaged (rather than busy, full or read-only)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF in _CORRUPTION_CODES
    text = str(exc)
    return "malformed" in text or "not a database" in text


def is_sound(path: Path) -> bool:
    """``PRAGMA quick_check`` on the file, read-only; False for anything but "ok"."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            raise
        return False
    return rows == [("ok",)]


def move_aside(path: Path, now: float) -> Path:
    """Rename the damaged file (and its -wal, -shm) beside itself; returns the new name."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            os.replace(src, f"{target}{suffix}")
    log.error("outbox damaged: moved aside to %s (kept, not deleted)", target.name)
    return target


def salvage(damaged: Path, fresh: sqlite3.Connection) -> Salvage:
    """Copy what is readable from ``damaged`` into ``fresh`` (schema made, no transaction open)."""
    try:
        old = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return Salvage(None, None, 0, None)
    try:
        epoch = _one(old, "SELECT value FROM meta WHERE key = 'epoch'")
        next_seq = _one(old, "SELECT value FROM meta WHERE key = 'next_seq'")
        depth = _one(old, "SELECT value FROM meta WHERE key = 'depth'")
        expected = int(depth) if depth is not None else None
        if epoch is None or next_seq is None:
            return Salvage(None, None, 0, expected)
        fresh.execute("BEGIN IMMEDIATE")
        copied = _copy_rows(old, fresh)
        for key in ("epoch", "next_seq", "last_delivery_at"):
            value = _one(old, "SELECT value FROM meta WHERE key = ?", (key,))
            if value is not None:
                fresh.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
        for table, columns in (
            ("shed_pending", "seq, kind"),
            ("shed_total", "kind, count"),
            ("dead_letter", "event_id, seq, kind, reason, at, payload"),
        ):
            try:
                rows = old.execute(f"SELECT {columns} FROM {table}").fetchall()
            except sqlite3.DatabaseError:
                continue
            marks = ",".join("?" * len(columns.split(",")))
            fresh.executemany(f"INSERT OR IGNORE INTO {table}({columns}) VALUES ({marks})", rows)
        fresh.execute("COMMIT")
        return Salvage(str(epoch), int(next_seq), copied, expected)
    except (sqlite3.DatabaseError, ValueError, TypeError):
        if fresh.in_transaction:
            fresh.execute("ROLLBACK")
        return Salvage(None, None, 0, None)
    finally:
        old.close()


def _copy_rows(old: sqlite3.Connection, fresh: sqlite3.Connection) -> int:
    """Each readable undelivered row, looked up one by one so a bad page costs only its rows."""
    bounds = _bounds(old)
    if bounds is None:
        return 0
    copied = 0
    for row_id in range(bounds[0], bounds[1] + 1):
        try:
            row = old.execute(
                "SELECT id, event_id, seq, kind, class, created_at, payload FROM outbox WHERE id = ?", (row_id,)
            ).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row is not None:
            fresh.execute(
                "INSERT OR IGNORE INTO outbox(id, event_id, seq, kind, class, created_at, payload)"
                " VALUES (?,?,?,?,?,?,?)",
                row,
            )
            copied += 1
    return copied


def _bounds(old: sqlite3.Connection) -> tuple[int, int] | None:
    lo = _one(old, "SELECT MIN(id) FROM outbox")
    hi = _one(old, "SELECT MAX(id) FROM outbox")
    if lo is None or hi is None:
        return None
    return int(lo), int(hi)


def _one(db: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()) -> Any:
    try:
        row = db.execute(sql, params).fetchone()
    except sqlite3.DatabaseError:
        return None
    return None if row is None else row[0]
