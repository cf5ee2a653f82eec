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
    # 2: the breach workflow (collector/store/workflow_sqlite.py): incidents as domain snapshots,
    # the alert -> incident index, deadline warnings sent, edited ICO drafts, the hash-chained
    # audit log with its head kept apart, the notification outbox, and counters (the event cursor,
    # incident numbers). The partial index holds breach-class events only, so the workflow finds
    # them without scanning every event and ingest of other kinds pays almost nothing for it.
    """
    CREATE TABLE wf_incidents (
        incident_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        opened_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        snapshot TEXT NOT NULL,
        draft_assessment TEXT,
        notified_grade TEXT
    );
    CREATE INDEX wf_incidents_state ON wf_incidents(state);
    CREATE TABLE wf_alerts (
        alert_id TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL REFERENCES wf_incidents(incident_id),
        kind TEXT NOT NULL,
        device TEXT NOT NULL,
        received_at INTEGER NOT NULL
    );
    CREATE INDEX wf_alerts_device ON wf_alerts(device, incident_id);
    CREATE TABLE wf_warnings_sent (
        incident_id TEXT NOT NULL,
        warning_key TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        PRIMARY KEY (incident_id, warning_key)
    );
    CREATE TABLE wf_ico_drafts (
        incident_id TEXT PRIMARY KEY REFERENCES wf_incidents(incident_id),
        edits TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        updated_by TEXT NOT NULL
    );
    CREATE TABLE wf_audit (
        position INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        details_json TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE wf_audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE wf_notifications (
        id INTEGER PRIMARY KEY,
        dedupe_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        email_done INTEGER NOT NULL DEFAULT 0,
        webhook_done INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT
    );
    CREATE INDEX wf_notifications_pending ON wf_notifications(next_attempt_at) WHERE email_done = 0 OR webhook_done = 0;
    CREATE TABLE wf_counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    CREATE INDEX wf_events_breach ON events(id)
        WHERE kind IN ('case_file_egress', 'case_files_found', 'lock_failed', 'lost_device_report')
    """,
)
