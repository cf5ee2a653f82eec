"""The collector's tables, defined once for SQLite and PostgreSQL (SQLAlchemy Core).

SQLAlchemy is used here as a schema language and DDL compiler only: the same ``Table`` renders
``INTEGER``/``BLOB`` on SQLite and ``BIGINT``/``BIGSERIAL``/``BYTEA`` on PostgreSQL, and the
stores run their queries as plain driver SQL (the ingest path at driver speed). Tests reflect
these tables through SQLAlchemy's inspector to check that an upgraded database has exactly the
shape of a new one.

Everything the collector keeps lives in one database: devices and their certificates, events
and sequence gaps (the event store); incidents, their alert index, warnings sent, ICO drafts,
the hash-chained audit log with its head kept apart, the notification outbox, counters, the
breach-class events handled and those quarantined (the breach workflow); accounts, sessions
(a SHA-256 of each token, never the token), device owners, incident assignments, officers'
notes and sign-in throttle counters (the console); enrolment tokens (secrets only as SHA-256)
and signed central policy versions (enrolment).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

# 64-bit on both: SQLite's INTEGER already is (and only "INTEGER" makes a rowid alias).
Int64 = BigInteger().with_variant(Integer(), "sqlite")

# Events the breach workflow reads (a partial index, so ingest of other kinds pays nothing for it).
BREACH_INDEX_KINDS = (
    "case_file_egress", "case_files_found", "lock_failed", "lost_device_report", "uninspectable_file",
    "uninspectable_destination",
)  # fmt: skip
# Events the console's incident page reads as "posture at the time".
POSTURE_INDEX_KINDS = ("encryption_posture", "lock_posture", "heartbeat")


def _kinds_in(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def _partial(where: str) -> dict[str, Any]:
    """Index keywords for a partial index on both dialects."""
    clause = text(where)
    return {"sqlite_where": clause, "postgresql_where": clause}


metadata = MetaData()

# -- events ------------------------------------------------------------------------------

devices = Table(
    "devices",
    metadata,
    Column("name", Text, primary_key=True),
    Column("enrolled_at", Int64, nullable=False),
    Column("revoked_at", Int64),
    Column("last_seen_at", Int64),
    Column("max_seq", Int64, nullable=False, server_default=text("0")),
    Column("lost_at", Int64),
    # Which of the device's outboxes numbers its events ('' before epochs; schema 6). Last, as
    # ALTER TABLE ... ADD COLUMN puts it, so an upgraded table matches a new one.
    Column("outbox_epoch", Text, nullable=False, server_default=text("''")),
)

device_certificates = Table(
    "device_certificates",
    metadata,
    Column("fingerprint", Text, primary_key=True),
    Column("device", Text, ForeignKey("devices.name"), nullable=False),
    Column("issued_at", Int64, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Int64, primary_key=True, autoincrement=True),
    Column("device", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("seq", Int64, nullable=False),
    Column("kind", Text, nullable=False),
    Column("occurred_at", Int64, nullable=False),
    Column("received_at", Int64, nullable=False),
    Column("agent_version", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    UniqueConstraint("device", "event_id"),
)
Index("wf_events_breach", events.c.id, **_partial(_kinds_in(BREACH_INDEX_KINDS)))
Index(
    "console_posture_events",
    events.c.device,
    events.c.kind,
    events.c.received_at,
    **_partial(_kinds_in(POSTURE_INDEX_KINDS)),
)

# Open gaps (explained IS NULL) are rewritten as a device's sequence fills in; explained ones
# ("shed": the agent said it dropped them) are recorded once.
sequence_gaps = Table(
    "sequence_gaps",
    metadata,
    Column("id", Int64, primary_key=True, autoincrement=True),
    Column("device", Text, nullable=False),
    Column("first_seq", Int64, nullable=False),
    Column("last_seq", Int64, nullable=False),
    Column("detected_at", Int64, nullable=False),
    Column("explained", Text),
)
Index("sequence_gaps_by_device", sequence_gaps.c.device, sequence_gaps.c.first_seq)
Index(
    "sequence_gaps_explained",
    sequence_gaps.c.device,
    sequence_gaps.c.first_seq,
    sequence_gaps.c.explained,
    unique=True,
    **_partial("explained IS NOT NULL"),
)

# What each device has stored, kept in the ingest transaction: its storage quota is read here.
device_storage = Table(
    "device_storage",
    metadata,
    Column("device", Text, ForeignKey("devices.name"), primary_key=True),
    Column("events", Int64, nullable=False),
    Column("bytes", Int64, nullable=False),
)

# -- the breach workflow -----------------------------------------------------------------

wf_incidents = Table(
    "wf_incidents",
    metadata,
    Column("incident_id", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("opened_at", Int64, nullable=False),
    Column("updated_at", Int64, nullable=False),
    Column("snapshot", Text, nullable=False),
    Column("draft_assessment", Text),
    Column("notified_grade", Text),
)
Index("wf_incidents_state", wf_incidents.c.state)

wf_alerts = Table(
    "wf_alerts",
    metadata,
    Column("alert_id", Text, primary_key=True),
    Column("incident_id", Text, ForeignKey("wf_incidents.incident_id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("device", Text, nullable=False),
    Column("received_at", Int64, nullable=False),
)
Index("wf_alerts_device", wf_alerts.c.device, wf_alerts.c.incident_id)

wf_warnings_sent = Table(
    "wf_warnings_sent",
    metadata,
    Column("incident_id", Text, primary_key=True),
    Column("warning_key", Text, primary_key=True),
    Column("sent_at", Int64, nullable=False),
)

wf_ico_drafts = Table(
    "wf_ico_drafts",
    metadata,
    Column("incident_id", Text, ForeignKey("wf_incidents.incident_id"), primary_key=True),
    Column("edits", Text, nullable=False),
    Column("updated_at", Int64, nullable=False),
    Column("updated_by", Text, nullable=False),
)

# The writer gives each entry the next position (last + 1) under the workflow lock, on both
# dialects; seq is unique, so not even a writer that bypassed the lock could store a fork.
wf_audit = Table(
    "wf_audit",
    metadata,
    Column("position", Int64, primary_key=True, autoincrement=False),
    Column("seq", Int64, nullable=False),
    Column("at", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("details_json", Text, nullable=False),
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
)
Index("wf_audit_seq_key", wf_audit.c.seq, unique=True)

wf_audit_head = Table(
    "wf_audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Int64, nullable=False),
    Column("hash", Text, nullable=False),
    CheckConstraint("id = 1", name="wf_audit_head_id_check"),
)

wf_notifications = Table(
    "wf_notifications",
    metadata,
    Column("id", Int64, primary_key=True, autoincrement=True),
    Column("dedupe_key", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("incident_id", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", Int64, nullable=False),
    Column("email_done", Integer, nullable=False, server_default=text("0")),
    Column("webhook_done", Integer, nullable=False, server_default=text("0")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", Int64, nullable=False),
    Column("last_error", Text),
)
Index(
    "wf_notifications_pending",
    wf_notifications.c.next_attempt_at,
    **_partial("email_done = 0 OR webhook_done = 0"),
)

# Which collector is sending a notice, until when: each notice goes out once even when several
# collectors share the database; a lease left by a collector that died mid-send expires.
wf_notice_claims = Table(
    "wf_notice_claims",
    metadata,
    Column("notification_id", Int64, ForeignKey("wf_notifications.id"), primary_key=True),
    Column("claimed_by", Text, nullable=False),
    Column("claimed_until", Int64, nullable=False),
)

wf_counters = Table(
    "wf_counters",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Int64, nullable=False),
)

# Breach-class events the workflow has dealt with (alerts placed, or none raised). The sweep
# looks for breach-class events missing here: one that the catch-up cursor passed while its
# ingest transaction was still uncommitted (PostgreSQL), or any other that slipped through.
wf_events_handled = Table(
    "wf_events_handled",
    metadata,
    Column("event_row", Int64, primary_key=True, autoincrement=False),  # events.id
    Column("handled_at", Int64, nullable=False),
)

# Events the workflow could not turn into alerts (an exception while handling them), so that the
# cursor moves on for every other device. Retried when the collector's version changes and on
# demand (`caseguard-collector workflow quarantine retry`); a row goes when its retry succeeds.
wf_quarantine = Table(
    "wf_quarantine",
    metadata,
    Column("event_row", Int64, primary_key=True, autoincrement=False),  # events.id
    Column("device", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("reason", Text, nullable=False),
    # "event": handling it raised (retried after an upgrade or on demand); "storage": the database
    # failed on it twice (retried by every sweep too, as the cause may have passed).
    Column("cause", Text, nullable=False),
    Column("first_attempt_at", Int64, nullable=False),
    Column("last_attempt_at", Int64, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("workflow_version", Text, nullable=False),
)

# -- the console -------------------------------------------------------------------------

console_users = Table(
    "console_users",
    metadata,
    Column("name", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Int64, nullable=False),
    Column("disabled_at", Int64),
    Column("last_login_at", Int64),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("user_name", Text, ForeignKey("console_users.name"), nullable=False),
    Column("csrf_token", Text, nullable=False),
    Column("created_at", Int64, nullable=False),
    Column("last_seen_at", Int64, nullable=False),
    Column("flash", Text),
)
Index("console_sessions_user", console_sessions.c.user_name)

console_device_owners = Table(
    "console_device_owners",
    metadata,
    Column("device", Text, ForeignKey("devices.name"), primary_key=True),
    Column("user_name", Text, ForeignKey("console_users.name"), primary_key=True),
    Column("assigned_at", Int64, nullable=False),
)
Index("console_device_owners_user", console_device_owners.c.user_name)

console_assignments = Table(
    "console_assignments",
    metadata,
    Column("incident_id", Text, ForeignKey("wf_incidents.incident_id"), primary_key=True),
    Column("user_name", Text, ForeignKey("console_users.name"), nullable=False),
    Column("assigned_at", Int64, nullable=False),
    Column("assigned_by", Text, nullable=False),
)

console_notes = Table(
    "console_notes",
    metadata,
    Column("id", Int64, primary_key=True, autoincrement=True),
    Column("incident_id", Text, ForeignKey("wf_incidents.incident_id"), nullable=False),
    Column("at", Int64, nullable=False),
    Column("author", Text, nullable=False),
    Column("text", Text, nullable=False),
)
Index("console_notes_incident", console_notes.c.incident_id, console_notes.c.id)

console_throttle = Table(
    # Sign-in throttle counters (collector.domain.sign_in_throttle), shared by every collector on
    # the database. ``key`` is a SHA-256 of what is counted (account, address or both), so no
    # address is kept; ``account_hash`` finds an account's counters for ``users unlock``.
    "console_throttle",
    metadata,
    Column("key", Text, primary_key=True),
    Column("account_hash", Text),
    Column("attempts", Integer, nullable=False),
    Column("last_at", Int64, nullable=False),
    Column("next_at", Int64, nullable=False),
    Column("succeeded_at", Int64),
)
Index("console_throttle_account", console_throttle.c.account_hash)

# -- enrolment and central policy --------------------------------------------------------

enrollment_tokens = Table(
    "enrollment_tokens",
    metadata,
    Column("token_id", Text, primary_key=True),
    Column("secret_hash", LargeBinary, nullable=False),
    Column("expires_at", Int64, nullable=False),
    Column("uses_left", Integer, nullable=False),
    Column("created_at", Int64, nullable=False),
)

policies = Table(
    "policies",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("body", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("signer_pem", LargeBinary, nullable=False),
    Column("created_at", Int64, nullable=False),
    Column("created_by", Text, nullable=False),
)


def create_table_sql(table: Table, dialect: Dialect) -> list[str]:
    """DDL that creates ``table`` and its indexes in ``dialect``."""
    statements = [str(CreateTable(table).compile(dialect=dialect)).strip()]
    statements += [
        str(CreateIndex(index).compile(dialect=dialect)).strip()
        for index in sorted(table.indexes, key=lambda i: str(i.name))
    ]
    return statements


def create_index_sql(index: Index, dialect: Dialect) -> str:
    """DDL that creates one index in ``dialect``."""
    return str(CreateIndex(index).compile(dialect=dialect)).strip()
