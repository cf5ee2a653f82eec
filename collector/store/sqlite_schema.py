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
    # 3: the web console (collector/store/console_sqlite.py): accounts with argon2 hashes, sessions
    # (a SHA-256 of each token, never the token), which staff own which devices, incident
    # assignments and officers' internal notes. The partial index (posture kinds only, so ingest of
    # other kinds pays nothing for it) serves the incident page's "posture at the time" lookups.
    """
    CREATE TABLE console_users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        disabled_at INTEGER,
        last_login_at INTEGER
    );
    CREATE TABLE console_sessions (
        token_hash TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES console_users(name),
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        flash TEXT
    );
    CREATE INDEX console_sessions_user ON console_sessions(user_name);
    CREATE TABLE console_device_owners (
        device TEXT NOT NULL REFERENCES devices(name),
        user_name TEXT NOT NULL REFERENCES console_users(name),
        assigned_at INTEGER NOT NULL,
        PRIMARY KEY (device, user_name)
    );
    CREATE INDEX console_device_owners_user ON console_device_owners(user_name);
    CREATE TABLE console_assignments (
        incident_id TEXT PRIMARY KEY REFERENCES wf_incidents(incident_id),
        user_name TEXT NOT NULL REFERENCES console_users(name),
        assigned_at INTEGER NOT NULL,
        assigned_by TEXT NOT NULL
    );
    CREATE TABLE console_notes (
        id INTEGER PRIMARY KEY,
        incident_id TEXT NOT NULL REFERENCES wf_incidents(incident_id),
        at INTEGER NOT NULL,
        author TEXT NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX console_notes_incident ON console_notes(incident_id, id);
    CREATE INDEX console_posture_events ON events(device, kind, received_at)
        WHERE kind IN ('encryption_posture', 'lock_posture', 'heartbeat')
    """,
    # 4: enrolment tokens (secrets only as SHA-256) and signed central policy versions
    """
    CREATE TABLE enrollment_tokens (
        token_id TEXT PRIMARY KEY,
        secret_hash BLOB NOT NULL,
        expires_at INTEGER NOT NULL,
        uses_left INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE policies (
        version INTEGER PRIMARY KEY,
        body BLOB NOT NULL,
        signature BLOB NOT NULL,
        signer_pem BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL
    );
    """,
    # 5: the outbox epoch each device's sequence belongs to (a fresh agent outbox restarts seq at 1)
    """
    ALTER TABLE devices ADD COLUMN outbox_epoch TEXT NOT NULL DEFAULT ''
    """,
)
