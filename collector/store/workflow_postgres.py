"""The breach workflow's storage in PostgreSQL (tables from migration 2), shared by several collectors.

Same behaviour as ``workflow_sqlite`` (tests/contract runs both). Two locks make it safe for
several collector processes to run the workflow at once:

- Every ``transaction()`` takes one transaction-scoped advisory lock first, so workflow
  writers run one at a time across every process, as ``BEGIN IMMEDIATE`` makes them in
  SQLite. Transactions run at READ COMMITTED, so each statement after the lock sees every
  workflow transaction committed before it. Row locks alone would not do: placing an alert
  decides from the *absence* of an open incident whether to open one, incident numbers and
  the audit chain are read-then-append, and the event cursor is read-then-advance; one lock
  covers them all, and workflow transactions are few and short. The audit chain therefore
  cannot fork (and ``wf_audit.seq`` is unique besides).
- ``events_after`` takes no lock. PostgreSQL hands out event ids when rows are inserted, not
  when they commit, so a reader may see id 101 committed while id 100 is still in flight on
  another collector. The position it reports therefore advances only to the newest id that
  was already visible ``SETTLE_S`` seconds earlier (ingest transactions take milliseconds);
  events above it are read again next time, which is harmless because placing an event is
  idempotent on its alert id. (A SHARE table lock did this exactly, but queued every
  collector's inserts behind each read: two collectors ingested half as fast as one.)

Lock waits are bounded (``lock_timeout``, as SQLite's busy timeout) and end as StoreError.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq

from collector.domain.audit_chain import ChainEntry, append_entry
from collector.domain.canonical_json import JsonValue, canonical_json
from collector.domain.incident import Incident, IncidentState
from collector.domain.incident_record import IncidentRecord
from collector.domain.instants import iso_utc, parse_iso_utc
from collector.domain.risk import RiskAssessment
from collector.domain.snapshots import SnapshotError, restore, snapshot
from collector.store.base import StoredEvent, StoreError
from collector.store.connections import postgres_connections
from collector.store.postgres import PostgresStore
from collector.store.workflow_base import DeviceActivity, EventRow, PendingNotification

WORKFLOW_LOCK = 0x77666C6F  # "wflo": the advisory lock every workflow transaction takes first
_TAKE_WORKFLOW_LOCK = "SELECT pg_advisory_xact_lock(%s)"
LOCK_TIMEOUT_S = 30.0  # the longest wait for a lock, as SQLite's busy timeout
SETTLE_S = 60.0  # an id visible this long ago has no lower id still in flight (ingest takes ms)
_CLOSED_STATES = [str(IncidentState.CLOSED), str(IncidentState.DISMISSED)]
_EVENT_COLUMNS = "e.id, e.device, e.event_id, e.seq, e.kind, e.occurred_at, e.received_at, e.agent_version, e.body"
_COLLECTOR_MADE = "lost_device_report"  # stored under the lost device, but not sent by it
_CURSOR_NUMBERS = itertools.count(1)  # server-side cursor names, unique per connection
_KIND = re.compile(r"[a-z][a-z0-9_]*")
_INCIDENT_COLUMNS = "snapshot, draft_assessment, notified_grade, updated_at"


def _event(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(row[1], row[2], row[3], row[4], row[5], row[6], row[7], bytes(row[8]))


def _record(row: Sequence[Any]) -> IncidentRecord:
    try:
        incident = restore(Incident, json.loads(row[0]))
        draft = None if row[1] is None else restore(RiskAssessment, json.loads(row[1]))
    except (SnapshotError, ValueError) as exc:
        raise StoreError(f"stored incident cannot be read: {exc}") from exc
    return IncidentRecord(incident, draft, row[2], int(row[3]))


def _chain_entry(r: Sequence[Any]) -> ChainEntry:
    try:
        at = parse_iso_utc(r[1])
    except ValueError:
        at = parse_iso_utc("1970-01-01T00:00:00Z")  # an edited, unparseable time: verify flags the hash
    return ChainEntry(int(r[0]), at, str(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]), str(r[7]))


class _Reads:
    """Queries shared by the store and its transactions; ``connection`` says where they run."""

    def __init__(self, connection: Callable[[], psycopg.Connection[Any]]) -> None:
        self._connection = connection

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        try:
            return self._connection().execute(sql, params)
        except psycopg.Error as exc:
            raise StoreError(f"workflow storage failed: {exc}") from exc

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._execute(sql, params).fetchall()
        except psycopg.Error as exc:
            raise StoreError(f"workflow storage failed: {exc}") from exc

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def get_incident(self, incident_id: str) -> IncidentRecord | None:
        """One incident, or None."""
        row = self._one(f"SELECT {_INCIDENT_COLUMNS} FROM wf_incidents WHERE incident_id = %s", (incident_id,))
        return None if row is None else _record(row)

    def list_incidents(self, states: Sequence[str] | None = None) -> list[IncidentRecord]:
        """Incidents, oldest first, optionally only in ``states``."""
        sql = f"SELECT {_INCIDENT_COLUMNS} FROM wf_incidents"
        params: list[Any] = []
        if states is not None:
            sql += " WHERE state = ANY(%s)"
            params.append(list(states))
        return [_record(r) for r in self._rows(sql + " ORDER BY opened_at, incident_id", params)]

    def incident_for_alert(self, alert_id: str) -> str | None:
        """The incident holding ``alert_id``."""
        row = self._one("SELECT incident_id FROM wf_alerts WHERE alert_id = %s", (alert_id,))
        return None if row is None else str(row[0])

    def find_event(self, device: str, event_id: str) -> EventRow | None:
        """One stored event by device and event id."""
        row = self._one(
            f"SELECT {_EVENT_COLUMNS}, d.lost_at FROM events e LEFT JOIN devices d ON d.name = e.device"
            " WHERE e.device = %s AND e.event_id = %s",
            (device, event_id),
        )
        return None if row is None else EventRow(row[0], _event(row), row[9])

    def latest_posture_events(self, device: str, kinds: Sequence[str]) -> dict[str, StoredEvent]:
        """The device's newest event of each kind."""
        rows = self._rows(
            f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.id IN ("
            " SELECT MAX(id) FROM events WHERE device = %s AND kind = ANY(%s) GROUP BY kind)",
            (device, list(kinds)),
        )
        return {r[4]: _event(r) for r in rows}

    def last_heard_from(self, device: str) -> int | None:
        """When the device's newest own event arrived."""
        row = self._one(
            "SELECT MAX(received_at) FROM events WHERE device = %s AND kind <> %s", (device, _COLLECTOR_MADE)
        )
        return None if row is None or row[0] is None else int(row[0])

    def device_lost_at(self, device: str) -> int | None:
        """When the device was marked lost."""
        row = self._one("SELECT lost_at FROM devices WHERE name = %s", (device,))
        return None if row is None or row[0] is None else int(row[0])

    def ico_edits(self, incident_id: str) -> dict[str, JsonValue]:
        """The ICO draft edits for the incident."""
        row = self._one("SELECT edits FROM wf_ico_drafts WHERE incident_id = %s", (incident_id,))
        return {} if row is None else dict(json.loads(row[0]))

    def counter(self, name: str) -> int:
        """A named counter."""
        row = self._one("SELECT value FROM wf_counters WHERE name = %s", (name,))
        return 0 if row is None else int(row[0])

    def warnings_sent(self, incident_id: str) -> set[str]:
        """Keys of warnings already sent."""
        rows = self._rows("SELECT warning_key FROM wf_warnings_sent WHERE incident_id = %s", (incident_id,))
        return {str(r[0]) for r in rows}


class PostgresWorkflowTx(_Reads):
    """The writes of one workflow transaction (the workflow lock is held)."""

    def __init__(self, db: psycopg.Connection[Any]) -> None:
        super().__init__(lambda: db)

    def open_incident_ids_for_device(self, device: str) -> list[str]:
        """Open incidents with an alert about ``device``."""
        rows = self._rows(
            "SELECT DISTINCT a.incident_id FROM wf_alerts a JOIN wf_incidents i ON i.incident_id = a.incident_id"
            " WHERE a.device = %s AND i.state <> ALL(%s) ORDER BY a.incident_id",
            (device, _CLOSED_STATES),
        )
        return [str(r[0]) for r in rows]

    def save_incident(self, record: IncidentRecord, now_us: int) -> None:
        """Insert or replace the incident row."""
        incident = record.incident
        self._execute(
            "INSERT INTO wf_incidents(incident_id, state, opened_at, updated_at, snapshot, draft_assessment,"
            " notified_grade) VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (incident_id) DO UPDATE"
            " SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at, snapshot = EXCLUDED.snapshot,"
            " draft_assessment = EXCLUDED.draft_assessment, notified_grade = EXCLUDED.notified_grade",
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
        self._execute(
            "INSERT INTO wf_alerts(alert_id, incident_id, kind, device, received_at) VALUES (%s,%s,%s,%s,%s)"
            " ON CONFLICT (alert_id) DO UPDATE SET incident_id = EXCLUDED.incident_id",
            (alert_id, incident_id, kind, device, received_at_us),
        )

    def append_audit(self, fields: Mapping[str, Any]) -> ChainEntry:
        """Append the next entry after the last stored one and move the head to it."""
        last = self._one(
            "SELECT seq, at, actor, action, subject, details_json, prev_hash, hash, position FROM wf_audit"
            " ORDER BY position DESC LIMIT 1"
        )
        previous = None if last is None else ChainEntry(last[0], parse_iso_utc(last[1]), *last[2:8])
        entry = append_entry(previous, **fields)
        self._execute(
            "INSERT INTO wf_audit(position, seq, at, actor, action, subject, details_json, prev_hash, hash)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (1 if last is None else int(last[8]) + 1, entry.seq, iso_utc(entry.at), entry.actor, entry.action,
             entry.subject, entry.details_json, entry.prev_hash, entry.hash),
        )  # fmt: skip
        self._execute(
            "INSERT INTO wf_audit_head(id, seq, hash) VALUES (1, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
            (entry.seq, entry.hash),
        )
        return entry

    def record_warning(self, incident_id: str, key: str, at_us: int) -> bool:
        """Remember a warning as sent."""
        cur = self._execute(
            "INSERT INTO wf_warnings_sent(incident_id, warning_key, sent_at) VALUES (%s,%s,%s) ON CONFLICT DO NOTHING",
            (incident_id, key, at_us),
        )
        return cur.rowcount == 1

    def enqueue_notification(
        self, dedupe_key: str, kind: str, incident_id: str, payload: Mapping[str, JsonValue], at_us: int
    ) -> bool:
        """Queue a notification once per ``dedupe_key``."""
        cur = self._execute(
            "INSERT INTO wf_notifications(dedupe_key, kind, incident_id, payload, created_at, next_attempt_at)"
            " VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (dedupe_key) DO NOTHING",
            (dedupe_key, kind, incident_id, canonical_json(dict(payload)), at_us, at_us),
        )
        return cur.rowcount == 1

    def save_ico_edits(self, incident_id: str, edits: Mapping[str, JsonValue], at_us: int, by: str) -> None:
        """Replace the ICO draft edits."""
        self._execute(
            "INSERT INTO wf_ico_drafts(incident_id, edits, updated_at, updated_by) VALUES (%s,%s,%s,%s)"
            " ON CONFLICT (incident_id) DO UPDATE SET edits = EXCLUDED.edits, updated_at = EXCLUDED.updated_at,"
            " updated_by = EXCLUDED.updated_by",
            (incident_id, canonical_json(dict(edits)), at_us, by),
        )

    def set_counter(self, name: str, value: int) -> None:
        """Set a named counter."""
        self._execute(
            "INSERT INTO wf_counters(name, value) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            (name, value),
        )

    def clear_lost(self, device: str) -> bool:
        """Withdraw the lost marking."""
        cur = self._execute("UPDATE devices SET lost_at = NULL WHERE name = %s AND lost_at IS NOT NULL", (device,))
        return cur.rowcount == 1


class PostgresWorkflowStore(_Reads):
    """``WorkflowStore`` over PostgreSQL; one autocommit connection per thread, explicit transactions."""

    def __init__(
        self,
        url: str,
        *,
        lock_timeout_s: float = LOCK_TIMEOUT_S,
        settle_s: float = SETTLE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        PostgresStore(url).close()  # refuses a schema that `caseguard-collector migrate` has not brought up to date
        self._url = url
        self._lock_timeout_ms = max(1, round(lock_timeout_s * 1000))
        self._conns = postgres_connections(url, autocommit=True)
        self._settle_s = settle_s
        self._monotonic = monotonic
        self._visible: collections.deque[tuple[float, int]] = collections.deque()  # (when, newest id seen)
        self._visible_lock = threading.Lock()
        super().__init__(self._db)

    def _db(self) -> psycopg.Connection[Any]:
        """This thread's connection (a new one after the old one broke)."""
        return self._conns.get()

    @contextmanager
    def _locked(self, lock_sql: str, params: Sequence[Any] = ()) -> Iterator[psycopg.Connection[Any]]:
        """A READ COMMITTED transaction that first takes a lock; rolls back on any error."""
        db = self._db()
        if db.info.transaction_status != pq.TransactionStatus.IDLE:
            raise StoreError("a workflow transaction is already open on this thread")
        try:
            with db.transaction():
                try:
                    db.execute(f"SET LOCAL lock_timeout = {self._lock_timeout_ms}")
                    db.execute(lock_sql, params)
                except psycopg.Error as exc:
                    raise StoreError(f"workflow storage is busy or unavailable: {exc}") from exc
                yield db
        except psycopg.Error as exc:
            raise StoreError(f"workflow storage failed: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[PostgresWorkflowTx]:
        """Take the workflow lock, yield the writes, ``COMMIT``; rolls back on any error."""
        with self._locked(_TAKE_WORKFLOW_LOCK, (WORKFLOW_LOCK,)) as db:
            yield PostgresWorkflowTx(db)

    def events_after(self, row_id: int, kinds: Sequence[str], limit: int) -> tuple[list[EventRow], int]:
        """Events of interest after ``row_id``, and a position up to which no insert can still be in flight.

        Kinds are written into the SQL as literals so PostgreSQL can use the partial index of
        breach-class events (migration 2); they must be plain snake_case names.
        """
        if not all(_KIND.fullmatch(k) for k in kinds):
            raise StoreError("event kinds must be snake_case names")
        listed = ",".join(f"'{k}'" for k in kinds)
        of_kinds, not_of_kinds = (f"e.kind IN ({listed})", f"x.kind NOT IN ({listed})") if kinds else ("FALSE", "TRUE")
        with self._locked("SELECT 1") as db:
            try:
                rows = db.execute(
                    f"(SELECT {_EVENT_COLUMNS}, d.lost_at FROM events e LEFT JOIN devices d ON d.name = e.device"
                    f"  WHERE {of_kinds} AND e.id > %(after)s ORDER BY e.id LIMIT %(limit)s)"
                    f" UNION ALL"
                    f" (SELECT {_EVENT_COLUMNS}, d.lost_at FROM devices d CROSS JOIN LATERAL ("
                    f"  SELECT * FROM events x WHERE x.device = d.name AND x.id > %(after)s"
                    f"  AND x.received_at > d.lost_at AND {not_of_kinds} ORDER BY x.id LIMIT %(limit)s) e"
                    f"  WHERE d.lost_at IS NOT NULL)",
                    {"after": row_id, "limit": limit},
                ).fetchall()
                newest_row = db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
            except psycopg.Error as exc:
                raise StoreError(f"workflow storage failed: {exc}") from exc
        newest = 0 if newest_row is None else int(newest_row[0])
        found = sorted((EventRow(r[0], _event(r), r[9]) for r in rows), key=lambda row: row.row_id)[:limit]
        upto = found[-1].row_id if len(found) >= limit else max(newest, row_id)
        return found, max(row_id, min(upto, self._settled(newest)))

    def _settled(self, newest: int) -> int:
        """The newest id that was visible at least ``settle_s`` ago (0 until then)."""
        now = self._monotonic()
        with self._visible_lock:
            self._visible.append((now, newest))
            settled = 0
            while self._visible and now - self._visible[0][0] >= self._settle_s:
                settled = max(settled, self._visible.popleft()[1])
            if settled:
                self._visible.appendleft((now - self._settle_s, settled))  # keep the latest settled mark
            return settled

    def device_activity(self) -> list[DeviceActivity]:
        """Every device's last sighting and flags."""
        rows = self._rows("SELECT name, last_seen_at, revoked_at, lost_at FROM devices ORDER BY name")
        return [DeviceActivity(r[0], r[1], r[2] is not None, r[3]) for r in rows]

    def open_gaps(self) -> list[tuple[str, int, int, int]]:
        """Unexplained gaps."""
        rows = self._rows(
            "SELECT device, first_seq, last_seq, detected_at FROM sequence_gaps WHERE explained IS NULL"
            " ORDER BY device, first_seq"
        )
        return [(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def pending_notifications(self, now_us: int, limit: int = 100) -> list[PendingNotification]:
        """Notifications still to deliver on some channel."""
        rows = self._rows(
            "SELECT id, dedupe_key, kind, incident_id, payload, created_at, email_done, webhook_done, attempts"
            " FROM wf_notifications WHERE (email_done = 0 OR webhook_done = 0) AND next_attempt_at <= %s"
            " ORDER BY id LIMIT %s",
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
        with self._locked(_TAKE_WORKFLOW_LOCK, (WORKFLOW_LOCK,)) as db:
            db.execute(
                "UPDATE wf_notifications SET email_done = %s, webhook_done = %s, attempts = %s, next_attempt_at = %s,"
                " last_error = %s WHERE id = %s",
                (int(email_done), int(webhook_done), attempts, next_attempt_us, error, id),
            )

    def audit_entries(self) -> Iterator[ChainEntry]:
        """Audit entries in storage order (not trusting their seq), streamed from one snapshot."""
        sql = "SELECT seq, at, actor, action, subject, details_json, prev_hash, hash FROM wf_audit ORDER BY position"
        try:
            with self._db().cursor(name=f"caseguard_audit_{next(_CURSOR_NUMBERS)}", withhold=True) as cur:
                cur.itersize = 1000
                cur.execute(sql)
                for r in cur:
                    yield _chain_entry(r)
        except psycopg.Error as exc:
            raise StoreError(f"cannot read the audit log: {exc}") from exc

    def audit_head(self) -> tuple[int, str] | None:
        """The recorded head."""
        row = self._one("SELECT seq, hash FROM wf_audit_head WHERE id = 1")
        return None if row is None else (int(row[0]), str(row[1]))

    def close(self) -> None:
        """Close every connection this store opened."""
        self._conns.close_all()
