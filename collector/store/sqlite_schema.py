"""SQLite schema migrations, applied in order and recorded in PRAGMA user_version."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: devices, their certificates, events and sequence gaps
    """
    CREATE TABLE devices (
        name TEXT PRIMARY KEY,
        enrolled_at INTEGER NOT NULL,
        revoked_at INTEGER,
        last_seen_at INTEGER,
        max_seq INTEGER NOT NULL DEFAULT 0,
        lost_at INTEGER
    );
    CREATE TABLE device_certificates (
        fingerprint TEXT PRIMARY KEY,
        device TEXT NOT NULL REFERENCES devices(name),
        issued_at INTEGER NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        event_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        occurred_at INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        agent_version TEXT NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (device, event_id)
    );
    CREATE TABLE sequence_gaps (
        device TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        detected_at INTEGER NOT NULL,
        explained TEXT,
        PRIMARY KEY (device, first_seq, explained)
    );
    """,
)
