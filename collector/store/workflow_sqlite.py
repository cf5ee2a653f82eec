"""The breach workflow's storage in the collector's SQLite database (tables from migration 2).

Incidents are kept as canonical JSON snapshots of the domain values (``domain.snapshots``),
so every field of every alert survives. Write transactions are ``BEGIN IMMEDIATE``: one
writer at a time across the serving process and any CLI process, and a transaction reads
what it is about to change inside the same lock, so no update is lost.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from collector.domain.audit_chain import ChainEntry, append_entry
from collector.domain.canonical_json import JsonValue, canonical_json
from collector.domain.incident import Incident, IncidentState
from collector.domain.incident_record import IncidentRecord
from collector.domain.instants import iso_utc, parse_iso_utc
from collector.domain.risk import RiskAssessment
from collector.domain.snapshots import SnapshotError, restore, snapshot
from collector.store.base import StoredEvent, StoreError
from collector.store.connections import sqlite_connections
from collector.store.sqlite import SQLiteStore
from collector.store.workflow_base import DeviceActivity, EventRow, PendingNotification

_CLOSED_STATES = (str(IncidentState.CLOSED), str(IncidentState.DISMISSED))
_EVENT_COLUMNS = "e.id, e.device, e.event_id, e.seq, e.kind, e.occurred_at, e.received_at, e.agent_version, e.body"
_COLLECTOR_MADE = "lost_device_report"  # stored under the lost device, but not sent by it
_KIND = re.compile(r"[a-z][a-z0-9_]*")


def _event(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(row[1], row[2], row[3], row[4], row[5], row[6], row[7], bytes(row[8]))


def _record(row: Sequence[Any]) -> IncidentRecord:
    try:
        incident = restore(Incident, json.loads(row[0]))
        draft = None if row[1] is None else restore(RiskAssessment, json.loads(row[1]))
    except (SnapshotError, ValueError) as exc:
        raise StoreError(f"stored incident cannot be read: {exc}") from exc
    return IncidentRecord(incident, draft, row[2], row[3])


class _Reads:
    """Queries shared by the store and its transactions, over one connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._conn = db

    @property
    def db(self) -> sqlite3.Connection:
        """The connection to query."""
        return self._conn

    def get_incident(self, incident_id: str) -> IncidentRecord | None:
        """One incident, or None."""
        row = self.db.execute(
            "SELECT snapshot, draft_assessment, notified_grade, updated_at FROM wf_incidents WHERE incident_id = ?",
            (incident_id,),
        ).fetchone()
        return None if row is None else _record(row)

    def list_incidents(self, states: Sequence[str] | None = None) -> list[IncidentRecord]:
        """Incidents, oldest first, optionally only in ``states``."""
        sql = "SELECT snapshot, draft_assessment, notified_grade, updated_at FROM wf_incidents"
        params: list[str] = []
        if states is not None:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            params = list(states)
        return [_record(r) for r in self.db.execute(sql + " ORDER BY opened_at, incident_id", params)]

    def incident_for_alert(self, alert_id: str) -> str | None:
        """The incident holding ``alert_id``."""
        row = self.db.execute("SELECT incident_id FROM wf_alerts WHERE alert_id = ?", (alert_id,)).fetchone()
        return None if row is None else str(row[0])

    def find_event(self, device: str, event_id: str) -> EventRow | None:
        """One stored event by device and event id."""
        row = self.db.execute(
            f"SELECT {_EVENT_COLUMNS}, d.lost_at FROM events e LEFT JOIN devices d ON d.name = e.device"
            " WHERE e.device = ? AND e.event_id = ?",
            (device, event_id),
        ).fetchone()
        return None if row is None else EventRow(row[0], _event(row), row[9])

    def latest_posture_events(self, device: str, kinds: Sequence[str]) -> dict[str, StoredEvent]:
        """The device's newest event of each kind."""
        rows = self.db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.id IN ("
            f" SELECT MAX(id) FROM events WHERE device = ? AND kind IN ({','.join('?' * len(kinds))}) GROUP BY kind)",
            (device, *kinds),
        ).fetchall()
        return {r[4]: _event(r) for r in rows}

    def last_heard_from(self, device: str) -> int | None:
        """When the device's newest own event arrived."""
        row = self.db.execute(
            "SELECT MAX(received_at) FROM events WHERE device = ? AND kind != ?", (device, _COLLECTOR_MADE)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def device_lost_at(self, device: str) -> int | None:
        """When the device was marked lost."""
        row = self.db.execute("SELECT lost_at FROM devices WHERE name = ?", (device,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def ico_edits(self, incident_id: str) -> dict[str, JsonValue]:
        """The ICO draft edits for the incident."""
        row = self.db.execute("SELECT edits FROM wf_ico_drafts WHERE incident_id = ?", (incident_id,)).fetchone()
        return {} if row is None else dict(json.loads(row[0]))

    def counter(self, name: str) -> int:
        """A named counter."""
        row = self.db.execute("SELECT value FROM wf_counters WHERE name = ?", (name,)).fetchone()
        return 0 if row is None else int(row[0])

    def warnings_sent(self, incident_id: str) -> set[str]:
        """Keys of warnings already sent."""
        rows = self.db.execute("SELECT warning_key FROM wf_warnings_sent WHERE incident_id = ?", (incident_id,))
        return {str(r[0]) for r in rows}


class SQLiteWorkflowTx(_Reads):
    """The writes of one ``BEGIN IMMEDIATE`` transaction."""

    def open_incident_ids_for_device(self, device: str) -> list[str]:
        """Open incidents with an alert about ``device``."""
        rows = self.db.execute(
            "SELECT DISTINCT a.incident_id FROM wf_alerts a JOIN wf_incidents i ON i.incident_id = a.incident_id"
            " WHERE a.device = ? AND i.state NOT IN (?, ?) ORDER BY a.incident_id",
            (device, *_CLOSED_STATES),
        )
        return [str(r[0]) for r in rows]

    def save_incident(self, record: IncidentRecord, now_us: int) -> None:
        """Insert or replace the incident row."""
        incident = record.incident
        self.db.execute(
            "INSERT INTO wf_incidents(incident_id, state, opened_at, updated_at, snapshot, draft_assessment,"
            " notified_grade) VALUES (?,?,?,?,?,?,?) ON CONFLICT(incident_id) DO UPDATE SET state = excluded.state,"
            " updated_at = excluded.updated_at, snapshot = excluded.snapshot,"
            " draft_assessment = excluded.draft_assessment, notified_grade = excluded.notified_grade",
            (
                incident.incident_id,
                str(incident.state),
                round(incident.opened_at.timestamp() * 1_000_000),
                now_us,
                canonical_json(snapshot(incident)),
                None if record.draft is None else canonical_json(snapshot(record.draft)),
                record.notified_grade,
            ),
        )

    def index_alert(self, alert_id: str, kind: str, device: str, received_at_us: int, incident_id: str) -> None:
        """Insert or move the alert's index row."""
        self.db.execute(
            "INSERT INTO wf_alerts(alert_id, incident_id, kind, device, received_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT(alert_id) DO UPDATE SET incident_id = excluded.incident_id",
            (alert_id, incident_id, kind, device, received_at_us),
        )

    def append_audit(self, fields: Mapping[str, Any]) -> ChainEntry:
        """Append the next entry after the recorded head."""
        last = self.db.execute(
            "SELECT seq, at, actor, action, subject, details_json, prev_hash, hash FROM wf_audit"
            " ORDER BY position DESC LIMIT 1"
        ).fetchone()
        previous = None if last is None else ChainEntry(last[0], parse_iso_utc(last[1]), *last[2:])
        entry = append_entry(previous, **fields)
        self.db.execute(
            "INSERT INTO wf_audit(seq, at, actor, action, subject, details_json, prev_hash, hash)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (entry.seq, iso_utc(entry.at), entry.actor, entry.action, entry.subject, entry.details_json,
             entry.prev_hash, entry.hash),
        )  # fmt: skip
        self.db.execute(
            "INSERT INTO wf_audit_head(id, seq, hash) VALUES (1, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            (entry.seq, entry.hash),
        )
        return entry

    def record_warning(self, incident_id: str, key: str, at_us: int) -> bool:
        """Remember a warning as sent."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO wf_warnings_sent(incident_id, warning_key, sent_at) VALUES (?,?,?)",
            (incident_id, key, at_us),
        )
        return cur.rowcount == 1

    def enqueue_notification(
        self, dedupe_key: str, kind: str, incident_id: str, payload: Mapping[str, JsonValue], at_us: int
    ) -> bool:
        """Queue a notification once per ``dedupe_key``."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO wf_notifications(dedupe_key, kind, incident_id, payload, created_at,"
            " next_attempt_at) VALUES (?,?,?,?,?,?)",
            (dedupe_key, kind, incident_id, canonical_json(dict(payload)), at_us, at_us),
        )
        return cur.rowcount == 1

    def save_ico_edits(self, incident_id: str, edits: Mapping[str, JsonValue], at_us: int, by: str) -> None:
        """Replace the ICO draft edits."""
        self.db.execute(
            "INSERT INTO wf_ico_drafts(incident_id, edits, updated_at, updated_by) VALUES (?,?,?,?)"
            " ON CONFLICT(incident_id) DO UPDATE SET edits = excluded.edits, updated_at = excluded.updated_at,"
            " updated_by = excluded.updated_by",
            (incident_id, canonical_json(dict(edits)), at_us, by),
        )

    def set_counter(self, name: str, value: int) -> None:
        """Set a named counter."""
        self.db.execute(
            "INSERT INTO wf_counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def clear_lost(self, device: str) -> bool:
        """Withdraw the lost marking."""
        cur = self.db.execute("UPDATE devices SET lost_at = NULL WHERE name = ? AND lost_at IS NOT NULL", (device,))
        return cur.rowcount == 1


class SQLiteWorkflowStore(_Reads):
    """``WorkflowStore`` over the collector's SQLite file; one connection per thread."""

    def __init__(self, path: Path) -> None:
        SQLiteStore(path).close()  # applies any pending migrations, the workflow's included
        self._path = path
        self._conns = sqlite_connections(path)

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection."""
        return self._conns.get()

    @contextmanager
    def transaction(self) -> Iterator[SQLiteWorkflowTx]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolls back on any error (sqlite errors become StoreError)."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"workflow storage is busy or unavailable: {exc}") from exc
        try:
            yield SQLiteWorkflowTx(db)
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"workflow storage failed: {exc}") from exc
            raise

    def events_after(self, row_id: int, kinds: Sequence[str], limit: int) -> tuple[list[EventRow], int]:
        """Events of interest after ``row_id`` and the position they were read up to (one read snapshot).

        Kinds are written into the SQL as literals so SQLite can use the partial index of
        breach-class events (migration 2); they must be plain snake_case names.
        """
        if not all(_KIND.fullmatch(k) for k in kinds):
            raise StoreError("event kinds must be snake_case names")
        listed = ",".join(f"'{k}'" for k in kinds)
        db = self.db
        db.execute("BEGIN")
        try:
            rows = db.execute(
                f"SELECT {_EVENT_COLUMNS}, d.lost_at FROM events e LEFT JOIN devices d ON d.name = e.device"
                f" WHERE e.kind IN ({listed}) AND e.id > ? ORDER BY e.id LIMIT ?",
                (row_id, limit),
            ).fetchall()
            for name, lost_at in db.execute("SELECT name, lost_at FROM devices WHERE lost_at IS NOT NULL").fetchall():
                rows += db.execute(
                    f"SELECT {_EVENT_COLUMNS}, ? FROM events e WHERE e.device = ? AND e.id > ?"
                    f" AND e.received_at > ? AND e.kind NOT IN ({listed}) ORDER BY e.id LIMIT ?",
                    (lost_at, name, row_id, lost_at, limit),
                ).fetchall()
            newest = db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        finally:
            db.execute("COMMIT")
        found = sorted((EventRow(r[0], _event(r), r[9]) for r in rows), key=lambda row: row.row_id)[:limit]
        upto = found[-1].row_id if len(found) >= limit else max(int(newest), row_id)
        return found, upto

    def device_activity(self) -> list[DeviceActivity]:
        """Every device's last sighting and flags."""
        rows = self.db.execute("SELECT name, last_seen_at, revoked_at, lost_at FROM devices ORDER BY name")
        return [DeviceActivity(r[0], r[1], r[2] is not None, r[3]) for r in rows]

    def open_gaps(self) -> list[tuple[str, int, int, int]]:
        """Unexplained gaps."""
        rows = self.db.execute(
            "SELECT device, first_seq, last_seq, detected_at FROM sequence_gaps WHERE explained IS NULL"
            " ORDER BY device, first_seq"
        )
        return [(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def pending_notifications(self, now_us: int, limit: int = 100) -> list[PendingNotification]:
        """Notifications still to deliver on some channel."""
        rows = self.db.execute(
            "SELECT id, dedupe_key, kind, incident_id, payload, created_at, email_done, webhook_done, attempts"
            " FROM wf_notifications WHERE (email_done = 0 OR webhook_done = 0) AND next_attempt_at <= ?"
            " ORDER BY id LIMIT ?",
            (now_us, limit),
        )
        return [
            PendingNotification(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], bool(r[6]), bool(r[7]), r[8])
            for r in rows
        ]

    def update_notification(
        self, id: int, *, email_done: bool, webhook_done: bool, attempts: int, next_attempt_us: int, error: str | None
    ) -> None:
        """Record a delivery attempt."""
        with self.transaction() as tx:
            tx.db.execute(
                "UPDATE wf_notifications SET email_done = ?, webhook_done = ?, attempts = ?, next_attempt_at = ?,"
                " last_error = ? WHERE id = ?",
                (int(email_done), int(webhook_done), attempts, next_attempt_us, error, id),
            )

    def audit_entries(self) -> Iterator[ChainEntry]:
        """Audit entries in storage order (not trusting their seq)."""
        rows = self.db.execute(
            "SELECT seq, at, actor, action, subject, details_json, prev_hash, hash FROM wf_audit ORDER BY position"
        )
        for r in rows:
            try:
                at = parse_iso_utc(r[1])
            except ValueError:
                at = parse_iso_utc("1970-01-01T00:00:00Z")  # an edited, unparseable time: verify flags the hash
            yield ChainEntry(int(r[0]), at, str(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]), str(r[7]))

    def audit_head(self) -> tuple[int, str] | None:
        """The recorded head."""
        row = self.db.execute("SELECT seq, hash FROM wf_audit_head WHERE id = 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def close(self) -> None:
        """Close every connection this store opened."""
        self._conns.close_all()
