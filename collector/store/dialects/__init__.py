"""What differs between SQLite and PostgreSQL, as small named hooks (see ``base``); one module per database."""

from __future__ import annotations

from collector.store.dialects.base import LockFailed, SqlDialect
from collector.store.dialects.postgres import PostgresDialect
from collector.store.dialects.sqlite import SQLiteDialect

__all__ = ["LockFailed", "PostgresDialect", "SQLiteDialect", "SqlDialect"]
