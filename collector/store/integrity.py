"""Is the database fit to serve? Checked once when ``serve`` starts, and on demand by `db check`.

A collector that serves a damaged database says "serving" and then refuses every batch (or,
worse, reads half a table and drafts from it). So before anything listens, the database is
checked: SQLite's own page check (``PRAGMA quick_check``; `db check` runs the slower
``integrity_check``) and the schema version (``collector.store.migrations.read_version``: a
version newer than this code, or one missing or garbled, is refused). A failure is one
``DatabaseDamaged`` (or ``SchemaOutOfDate``) line saying what is wrong and what to do; the
caller exits non-zero before any event can be acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.store.base import StoreError
from collector.store.database import Database
from collector.store.dialects import SqlDialect
from collector.store.migrations import RESTORE_ADVICE, SCHEMA_VERSION, read_version


class DatabaseDamaged(StoreError):
    """The database engine reports damaged pages: the collector will not serve it."""


@dataclass(frozen=True)
class DatabaseReport:
    """A database that passed the check: where it is, its schema version, and how hard it was checked."""

    where: str
    version: int
    thorough: bool

    def summary(self) -> str:
        """One line for `db check`."""
        how = "integrity check" if self.thorough else "quick check"
        behind = ""
        if self.version < SCHEMA_VERSION:
            behind = f" (this collector migrates it to {SCHEMA_VERSION} when it opens it)"
        return f"{self.where}: {how} passed; schema version {self.version}{behind}"


def check_database(dialect: SqlDialect, *, thorough: bool = False) -> DatabaseReport:
    """Check ``dialect``'s database; raise ``DatabaseDamaged``/``SchemaUnknown``/``SchemaOutOfDate`` or
    ``StoreError`` (unreachable), each one line naming the database and what to do."""
    database = Database(dialect)
    where = dialect.where()
    try:
        with database.snapshot() as tx:
            damage = dialect.damage(tx.cursor, thorough=thorough)
            if damage:
                more = " (the first of several problems)" if len(damage) > 1 else ""
                raise DatabaseDamaged(
                    f"{where} is damaged: {damage[0]}{more}; the collector will not serve it: {RESTORE_ADVICE}"
                )
            version = read_version(tx.cursor, dialect)
    except StoreError as exc:
        cause = exc.__cause__
        if isinstance(exc, DatabaseDamaged) or cause is None or not dialect.is_damage(cause):
            raise
        raise DatabaseDamaged(
            f"{where} is damaged: {dialect.reason(cause)}; the collector will not serve it: {RESTORE_ADVICE}"
        ) from exc
    finally:
        database.close()
    return DatabaseReport(where, version, thorough)
