"""A database that today's collector (schema version 4) made upgrades without loss, on both databases.

Each test builds a database with the frozen version-4 SQL (tests/contract/schema_v4.py) exactly
as the old collector applied it, fills every table, opens it with the current store (SQLite
upgrades on open, PostgreSQL by `migrate`), and then checks three things a user would notice:
every row is still there with every value; the schema is exactly what a new database gets (so
no later migration meets a shape it does not expect); and the stores keep working on it (gap
bookkeeping on the rebuilt gap table, the audit chain carrying on and verifying).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy

from collector.domain.audit_chain import append_entry
from collector.domain.instants import iso_utc
from collector.store.base import IncomingEvent, SequenceGap
from collector.store.events import EventStore, PostgresStore, SQLiteStore
from collector.store.factory import SQLITE_FILE, migrate
from collector.store.migrations import SCHEMA_VERSION, SchemaOutOfDate
from collector.store.schema import metadata
from collector.store.workflow import PostgresWorkflowStore, SQLiteWorkflowStore, SQLWorkflowStore
from collector.workflow.audit import verify_audit
from tests.contract.schema_v4 import POSTGRES_V4, SQLITE_V4
from tests.postgres_server import create_database, drop_database


def _audit_rows() -> list[tuple[Any, ...]]:
    """Three chained entries, as the workflow wrote them (position, then the entry's fields)."""
    rows: list[tuple[Any, ...]] = []
    previous = None
    for n in range(3):
        entry = append_entry(
            previous,
            at=datetime(2026, 11, 2, 9, n, tzinfo=UTC),
            actor="ig.officer",
            action="incident.opened" if n == 0 else "incident.noted",
            subject="INC-2026-0001",
            details={"n": n},
        )
        rows.append(
            (
                n + 1,
                entry.seq,
                iso_utc(entry.at),
                entry.actor,
                entry.action,
                entry.subject,
                entry.details_json,
                entry.prev_hash,
                entry.hash,
            )
        )
        previous = entry
    return rows


AUDIT = _audit_rows()
SNAPSHOT = '{"incident_id":"INC-2026-0001"}'  # opaque to the store; never parsed by this test

# Every table of version 4, with rows an old collector could have written (all synthetic).
V4_ROWS: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = {
    "devices": (
        ("name", "enrolled_at", "revoked_at", "last_seen_at", "max_seq", "lost_at"),
        [
            ("LAPTOP-0042-a1", 1_700_000_000_000_000, None, 1_700_000_500_000_000, 9, None),
            ("LAPTOP-0043-b2", 1_700_000_100_000_000, 1_700_000_900_000_000, None, 0, 1_700_000_800_000_000),
        ],
    ),
    "device_certificates": (
        ("fingerprint", "device", "issued_at"),
        [
            ("fp-0042-first", "LAPTOP-0042-a1", 1_700_000_000_000_000),
            ("fp-0042-renewed", "LAPTOP-0042-a1", 1_700_000_400_000_000),
            ("fp-0043", "LAPTOP-0043-b2", 1_700_000_100_000_000),
        ],
    ),
    "events": (
        ("id", "device", "event_id", "seq", "kind", "occurred_at", "received_at", "agent_version", "body"),
        [
            (
                1,
                "LAPTOP-0042-a1",
                "0190aaaa-0001",
                1,
                "heartbeat",
                1_700_000_001_000_000,
                1_700_000_001_100_000,
                "0.1.0",
                b"\x08\x01",
            ),
            (
                2,
                "LAPTOP-0042-a1",
                "0190aaaa-0002",
                2,
                "case_file_egress",
                1_700_000_002_000_000,
                1_700_000_002_100_000,
                "0.1.0",
                b"\x00\xff binary \x80",
            ),
            (
                3,
                "LAPTOP-0042-a1",
                "0190aaaa-0009",
                9,
                "encryption_posture",
                1_700_000_009_000_000,
                1_700_000_009_100_000,
                "0.1.0",
                b"",
            ),
            (
                4,
                "LAPTOP-0043-b2",
                "collector-lost-1",
                0,
                "lost_device_report",
                1_700_000_800_000_000,
                1_700_000_800_000_000,
                "collector",
                b"\x12\x03abc",
            ),
        ],
    ),
    "sequence_gaps": (
        ("device", "first_seq", "last_seq", "detected_at", "explained"),
        [
            ("LAPTOP-0042-a1", 3, 4, 1_700_000_009_100_000, None),
            ("LAPTOP-0042-a1", 5, 6, 1_700_000_009_100_000, "shed"),
            ("LAPTOP-0042-a1", 7, 8, 1_700_000_009_100_000, None),
        ],
    ),
    "wf_incidents": (
        ("incident_id", "state", "opened_at", "updated_at", "snapshot", "draft_assessment", "notified_grade"),
        [("INC-2026-0001", "suspected", 1_700_000_002_200_000, 1_700_000_003_000_000, SNAPSHOT, None, "amber")],
    ),
    "wf_alerts": (
        ("alert_id", "incident_id", "kind", "device", "received_at"),
        [("alert-0190aaaa-0002", "INC-2026-0001", "case_file_egress", "LAPTOP-0042-a1", 1_700_000_002_100_000)],
    ),
    "wf_warnings_sent": (
        ("incident_id", "warning_key", "sent_at"),
        [("INC-2026-0001", "ico-48h", 1_700_000_200_000_000)],
    ),
    "wf_ico_drafts": (
        ("incident_id", "edits", "updated_at", "updated_by"),
        [("INC-2026-0001", '{"what_happened":"A copy to a USB stick."}', 1_700_000_300_000_000, "ig.officer")],
    ),
    "wf_audit": (("position", "seq", "at", "actor", "action", "subject", "details_json", "prev_hash", "hash"), AUDIT),
    "wf_audit_head": (("id", "seq", "hash"), [(1, AUDIT[-1][1], AUDIT[-1][8])]),
    "wf_notifications": (
        (
            "id",
            "dedupe_key",
            "kind",
            "incident_id",
            "payload",
            "created_at",
            "email_done",
            "webhook_done",
            "attempts",
            "next_attempt_at",
            "last_error",
        ),
        [
            (
                1,
                "opened:INC-2026-0001",
                "incident_opened",
                "INC-2026-0001",
                '{"incident_id":"INC-2026-0001"}',
                1_700_000_002_300_000,
                1,
                0,
                2,
                1_700_000_400_000_000,
                "webhook: connection refused",
            )
        ],
    ),
    "wf_counters": (("name", "value"), [("event_cursor", 4), ("incident_number:2026", 1)]),
    "console_users": (
        ("name", "role", "password_hash", "created_at", "disabled_at", "last_login_at"),
        [
            (
                "ig.officer",
                "ig_officer",
                "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
                1_699_999_000_000_000,
                None,
                1_700_000_100_000_000,
            ),
            (
                "j.example",
                "staff",
                "$argon2id$v=19$m=65536,t=3,p=4$c2FsdDI$aGFzaDI",
                1_699_999_100_000_000,
                1_700_000_000_000_000,
                None,
            ),
        ],
    ),
    "console_sessions": (
        ("token_hash", "user_name", "csrf_token", "created_at", "last_seen_at", "flash"),
        [
            (
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "ig.officer",
                "csrf-1",
                1_700_000_100_000_000,
                1_700_000_150_000_000,
                "Incident assigned",
            )
        ],
    ),
    "console_device_owners": (
        ("device", "user_name", "assigned_at"),
        [("LAPTOP-0042-a1", "j.example", 1_700_000_050_000_000)],
    ),
    "console_assignments": (
        ("incident_id", "user_name", "assigned_at", "assigned_by"),
        [("INC-2026-0001", "ig.officer", 1_700_000_160_000_000, "ig.officer")],
    ),
    "console_notes": (
        ("id", "incident_id", "at", "author", "text"),
        [(1, "INC-2026-0001", 1_700_000_170_000_000, "ig.officer", "Rang the owner; stick recovered.")],
    ),
    "enrollment_tokens": (
        ("token_id", "secret_hash", "expires_at", "uses_left", "created_at"),
        [("tok-1", bytes(range(32)), 1_700_100_000_000_000, 3, 1_699_990_000_000_000)],
    ),
    "policies": (
        ("version", "body", "signature", "signer_pem", "created_at", "created_by"),
        [
            (
                1,
                b'{"lock":{"idle_s":300}}',
                b"\x01" * 64,
                b"-----BEGIN PUBLIC KEY-----\n...",
                1_699_995_000_000_000,
                "it.admin",
            )
        ],
    ),
}


# Tables added after version 4: migration step 7 creates them on an old database.
AFTER_V4 = {"device_storage", "wf_notice_claims", "wf_events_handled", "wf_quarantine", "console_throttle"}


def test_every_table_of_version_4_has_rows_here() -> None:
    """The fixture covers every table the old schema had (a new table needs no upgrade test)."""
    created = set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", " ".join(SQLITE_V4)))
    assert set(V4_ROWS) == created
    assert set(metadata.tables) == created | AFTER_V4


# -- building version-4 databases as the old collector did -------------------------------


def _sqlite_v4(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for number, migration in enumerate(SQLITE_V4, start=1):
            db.execute("BEGIN IMMEDIATE")
            for statement in migration.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        db.execute("BEGIN")
        for table, (columns, rows) in V4_ROWS.items():
            marks = ",".join("?" * len(columns))
            db.executemany(f"INSERT INTO {table}({', '.join(columns)}) VALUES ({marks})", rows)
        db.execute("COMMIT")
    finally:
        db.close()


def _postgres_v4(url: str) -> None:
    with psycopg.connect(url) as db:
        db.execute("CREATE TABLE caseguard_schema (version INTEGER NOT NULL)")
        db.execute("INSERT INTO caseguard_schema(version) VALUES (0)")
        for number, migration in enumerate(POSTGRES_V4, start=1):
            db.execute(migration)
            db.execute("UPDATE caseguard_schema SET version = %s", (number,))
        for table, (columns, rows) in V4_ROWS.items():
            marks = ",".join(["%s"] * len(columns))
            with db.cursor() as cur:
                cur.executemany(f"INSERT INTO {table}({', '.join(columns)}) VALUES ({marks})", rows)
        # The old collector gave ids from sequences; rows inserted with explicit ids leave them behind.
        for table in ("events", "sequence_gaps", "wf_notifications", "console_notes"):
            db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")


# -- what to compare ---------------------------------------------------------------------


def _rows(engine: sqlalchemy.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every version-4 column of every table, in a fixed order (bytes as bytes)."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as db:
        for table, (columns, _) in V4_ROWS.items():
            cols = ", ".join(columns)
            got = db.exec_driver_sql(f"SELECT {cols} FROM {table} ORDER BY {cols}").fetchall()
            found[table] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in got]
    return found


def _shape(engine: sqlalchemy.Engine) -> dict[str, Any]:
    """Tables, columns (type, nullability, default), keys, foreign keys, indexes and unique constraints."""
    inspector = sqlalchemy.inspect(engine)
    shape: dict[str, Any] = {}
    for table in sorted(t for t in inspector.get_table_names() if t != "caseguard_schema"):
        pk = inspector.get_pk_constraint(table)["constrained_columns"]
        shape[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"] or c["name"] in pk, str(c.get("default") or ""))
                for c in inspector.get_columns(table)
            ],
            "pk": pk,
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (
                    str(i["name"]),
                    tuple(str(c) for c in i["column_names"]),
                    bool(i["unique"]),
                    str(i.get("dialect_options", {}).get(f"{engine.dialect.name}_where", "")),
                )
                for i in inspector.get_indexes(table)
                if not i.get("duplicates_constraint")
            ),
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
        }
    return shape


def _expected_rows() -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: sorted(rows, key=lambda r: tuple((v is not None, v) for v in r)) for table, (_, rows) in V4_ROWS.items()
    }


def _sorted(found: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {t: sorted(rows, key=lambda r: tuple((v is not None, v) for v in r)) for t, rows in found.items()}


def _keeps_working(events: EventStore, workflow: SQLWorkflowStore) -> None:
    """Gaps on the rebuilt table fill in; the audit chain carries on from the old entries and verifies."""
    events.ingest([("LAPTOP-0042-a1", [IncomingEvent("0190aaaa-0003", 3, "heartbeat", 3, "0.1.0", b"")])], 5)
    assert events.sequence_gaps("LAPTOP-0042-a1") == [
        SequenceGap("LAPTOP-0042-a1", 4, 4, 1_700_000_009_100_000, None),
        SequenceGap("LAPTOP-0042-a1", 5, 6, 1_700_000_009_100_000, "shed"),
        SequenceGap("LAPTOP-0042-a1", 7, 8, 1_700_000_009_100_000, None),
    ]
    with workflow.transaction() as tx:
        entry = tx.append_audit(
            {
                "at": datetime(2026, 11, 3, tzinfo=UTC),
                "actor": "ig.officer",
                "action": "incident.noted",
                "subject": "INC-2026-0001",
                "details": {"n": 3},
            }
        )
    assert entry.seq == 4 and entry.prev_hash == AUDIT[-1][8]
    assert verify_audit(workflow) == (4, [])


# -- the tests ---------------------------------------------------------------------------


def test_a_version_4_sqlite_database_upgrades_without_loss(tmp_path: Path) -> None:
    old = tmp_path / "old" / "collector.sqlite3"
    old.parent.mkdir()
    _sqlite_v4(old)
    fresh = tmp_path / "new" / "collector.sqlite3"
    SQLiteStore(fresh).close()

    SQLiteStore(old).close()  # SQLite upgrades when the collector opens its file

    old_engine = sqlalchemy.create_engine(f"sqlite:///{old}")
    fresh_engine = sqlalchemy.create_engine(f"sqlite:///{fresh}")
    try:
        with old_engine.connect() as db:
            assert db.exec_driver_sql("PRAGMA user_version").scalar() == SCHEMA_VERSION
        assert _sorted(_rows(old_engine)) == _expected_rows()
        assert _shape(old_engine) == _shape(fresh_engine)
    finally:
        old_engine.dispose()
        fresh_engine.dispose()
    events, workflow = SQLiteStore(old), SQLiteWorkflowStore(old)
    try:
        _keeps_working(events, workflow)
    finally:
        events.close()
        workflow.close()


@pytest.fixture
def two_databases(postgres_server_url: str) -> Iterator[tuple[str, str]]:
    urls = (create_database(postgres_server_url), create_database(postgres_server_url))
    yield urls
    for url in urls:
        drop_database(postgres_server_url, url)


def _pg_engine(url: str) -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def test_a_version_4_postgres_database_upgrades_without_loss(two_databases: tuple[str, str]) -> None:
    old, fresh = two_databases
    _postgres_v4(old)
    for url in (fresh, old):
        migrator = PostgresStore(url, require_current_schema=False)
        try:
            assert migrator.migrate() == ((0 if url == fresh else 4), SCHEMA_VERSION)
            assert migrator.migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)  # a second run changes nothing
        finally:
            migrator.close()

    engines: dict[str, sqlalchemy.Engine] = {url: _pg_engine(url) for url in (old, fresh)}
    try:
        assert _sorted(_rows(engines[old])) == _expected_rows()
        assert _shape(engines[old]) == _shape(engines[fresh])
    finally:
        for engine in engines.values():
            engine.dispose()
    events, workflow = PostgresStore(old), PostgresWorkflowStore(old)
    try:
        _keeps_working(events, workflow)
        # New rows get new ids after the old ones (the id sequences came through).
        events.ingest([("LAPTOP-0042-a1", [IncomingEvent("0190aaaa-0010", 10, "heartbeat", 10, "0.1.0", b"")])], 6)
        assert [e.event_id for e in events.list_events("LAPTOP-0042-a1")][-2:] == ["0190aaaa-0003", "0190aaaa-0010"]
    finally:
        events.close()
        workflow.close()


def test_a_database_newer_than_this_collector_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "collector.sqlite3"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SchemaOutOfDate, match="newer than this collector"):
        SQLiteStore(path)


def test_migrate_reports_the_version_it_started_from(tmp_path: Path) -> None:
    """`caseguard-collector migrate` says what it did: from nothing, from version 4, and then nothing to do."""
    assert migrate(tmp_path / "new") == (0, SCHEMA_VERSION)
    old = tmp_path / "old"
    old.mkdir()
    _sqlite_v4(old / SQLITE_FILE)
    assert migrate(old) == (4, SCHEMA_VERSION)
    assert migrate(old) == (SCHEMA_VERSION, SCHEMA_VERSION)
