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
    # 2: the breach workflow (collector/store/workflow_postgres.py; mirrors SQLite migration 2):
    # incidents as domain snapshots, the alert -> incident index, deadline warnings sent, edited ICO
    # drafts, the hash-chained audit log with its head kept apart, the notification outbox, counters
    # (the event cursor, incident numbers), and a partial index of breach-class events. Audit
    # positions are given by the writer (last + 1, like SQLite's rowid); seq is unique, so even a
    # writer that bypassed the workflow lock could not store a fork of the chain.
    """
    CREATE TABLE wf_incidents (
        incident_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        opened_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        snapshot TEXT NOT NULL,
        draft_assessment TEXT,
        notified_grade TEXT
    );
    CREATE INDEX wf_incidents_state ON wf_incidents (state);
    CREATE TABLE wf_alerts (
        alert_id TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL REFERENCES wf_incidents(incident_id),
        kind TEXT NOT NULL,
        device TEXT NOT NULL,
        received_at BIGINT NOT NULL
    );
    CREATE INDEX wf_alerts_device ON wf_alerts (device, incident_id);
    CREATE TABLE wf_warnings_sent (
        incident_id TEXT NOT NULL,
        warning_key TEXT NOT NULL,
        sent_at BIGINT NOT NULL,
        PRIMARY KEY (incident_id, warning_key)
    );
    CREATE TABLE wf_ico_drafts (
        incident_id TEXT PRIMARY KEY REFERENCES wf_incidents(incident_id),
        edits TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        updated_by TEXT NOT NULL
    );
    CREATE TABLE wf_audit (
        position BIGINT PRIMARY KEY,
        seq BIGINT NOT NULL UNIQUE,
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
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE wf_notifications (
        id BIGSERIAL PRIMARY KEY,
        dedupe_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        email_done INTEGER NOT NULL DEFAULT 0,
        webhook_done INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        last_error TEXT
    );
    CREATE INDEX wf_notifications_pending ON wf_notifications (next_attempt_at)
        WHERE email_done = 0 OR webhook_done = 0;
    CREATE TABLE wf_counters (
        name TEXT PRIMARY KEY,
        value BIGINT NOT NULL
    );
    CREATE INDEX wf_events_breach ON events (id)
        WHERE kind IN ('case_file_egress', 'case_files_found', 'lock_failed', 'lost_device_report');
    """,
    # 3: enrolment tokens (secrets only as SHA-256) and signed central policy versions
    """
    CREATE TABLE enrollment_tokens (
        token_id TEXT PRIMARY KEY,
        secret_hash BYTEA NOT NULL,
        expires_at BIGINT NOT NULL,
        uses_left INTEGER NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE policies (
        version INTEGER PRIMARY KEY,
        body BYTEA NOT NULL,
        signature BYTEA NOT NULL,
        signer_pem BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        created_by TEXT NOT NULL
    );
    """,
    # 4: the web console (collector/store/console_postgres.py; mirrors SQLite migration 3): accounts
    # with argon2 hashes, sessions (a SHA-256 of each token, never the token), which staff own which
    # devices, incident assignments and officers' internal notes, and a partial index of posture
    # events (those kinds only, so ingest of other kinds pays nothing for it) for the incident page's
    # "posture at the time".
    """
    CREATE TABLE console_users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        disabled_at BIGINT,
        last_login_at BIGINT
    );
    CREATE TABLE console_sessions (
        token_hash TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES console_users(name),
        csrf_token TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        flash TEXT
    );
    CREATE INDEX console_sessions_user ON console_sessions (user_name);
    CREATE TABLE console_device_owners (
        device TEXT NOT NULL REFERENCES devices(name),
        user_name TEXT NOT NULL REFERENCES console_users(name),
        assigned_at BIGINT NOT NULL,
        PRIMARY KEY (device, user_name)
    );
    CREATE INDEX console_device_owners_user ON console_device_owners (user_name);
    CREATE TABLE console_assignments (
        incident_id TEXT PRIMARY KEY REFERENCES wf_incidents(incident_id),
        user_name TEXT NOT NULL REFERENCES console_users(name),
        assigned_at BIGINT NOT NULL,
        assigned_by TEXT NOT NULL
    );
    CREATE TABLE console_notes (
        id BIGSERIAL PRIMARY KEY,
        incident_id TEXT NOT NULL REFERENCES wf_incidents(incident_id),
        at BIGINT NOT NULL,
        author TEXT NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX console_notes_incident ON console_notes (incident_id, id);
    CREATE INDEX console_posture_events ON events (device, kind, received_at)
        WHERE kind IN ('encryption_posture', 'lock_posture', 'heartbeat');
    """,
    # 5: the outbox epoch each device's sequence belongs to (mirrors SQLite migration 5)
    """
    ALTER TABLE devices ADD COLUMN outbox_epoch TEXT NOT NULL DEFAULT ''
    """,
)
