"""PostgreSQL schema migrations, applied in order by `caseguard-collector migrate` and recorded
in caseguard_schema. Several collectors share one database, so migration takes an advisory lock."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: devices, their certificates, events and sequence gaps (mirrors SQLite migration 1)
    """
    CREATE TABLE devices (
        name TEXT PRIMARY KEY,
        enrolled_at BIGINT NOT NULL,
        revoked_at BIGINT,
        last_seen_at BIGINT,
        max_seq BIGINT NOT NULL DEFAULT 0,
        lost_at BIGINT
    );
    CREATE TABLE device_certificates (
        fingerprint TEXT PRIMARY KEY,
        device TEXT NOT NULL REFERENCES devices(name),
        issued_at BIGINT NOT NULL
    );
    CREATE TABLE events (
        id BIGSERIAL PRIMARY KEY,
        device TEXT NOT NULL,
        event_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        kind TEXT NOT NULL,
        occurred_at BIGINT NOT NULL,
        received_at BIGINT NOT NULL,
        agent_version TEXT NOT NULL,
        body BYTEA NOT NULL,
        UNIQUE (device, event_id)
    );
    CREATE TABLE sequence_gaps (
        id BIGSERIAL PRIMARY KEY,
        device TEXT NOT NULL,
        first_seq BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        detected_at BIGINT NOT NULL,
        explained TEXT
    );
    CREATE INDEX sequence_gaps_by_device ON sequence_gaps (device, first_seq);
    CREATE UNIQUE INDEX sequence_gaps_explained ON sequence_gaps (device, first_seq, explained)
        WHERE explained IS NOT NULL;
    """,
)
