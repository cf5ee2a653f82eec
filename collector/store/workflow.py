"""The breach workflow's storage, once for both databases (tables in ``collector.store.schema``).

Incidents are kept as canonical JSON snapshots of the domain values (``domain.snapshots``), so
every field of every alert survives. Every write goes through ``transaction()``, and workflow
writers run one at a time across every process: SQLite's ``BEGIN IMMEDIATE`` takes the file's
writer lock; PostgreSQL takes one transaction-scoped advisory lock (``WORKFLOW_LOCK``) first
and runs at READ COMMITTED, so each statement after it sees every workflow transaction
committed before. Row locks alone would not do: placing an alert decides from the *absence* of
an open incident whether to open one, incident numbers and the audit chain are read-then-append,
and the event cursor is read-then-advance; one lock covers them all, and workflow transactions
are few and short. The audit chain therefore cannot fork (and ``wf_audit.seq`` is unique besides).

``events_after`` takes no lock. Where event ids can become visible out of order (PostgreSQL
hands them out at insert, not at commit, so a reader may see id 101 committed while id 100 is
still in flight on another collector), the position it reports advances only to the newest id
that was already visible ``SETTLE_S`` seconds earlier (ingest transactions take milliseconds);
events above it are read again next time, which is harmless because placing an event is
idempotent on its alert id. SQLite's writers are serialised, so its position is exact. An
ingest transaction slower than the settle window is passed by the cursor; the workflow's
sweep (``unhandled_events``) finds it.

Lock waits are bounded (``lock_timeout_s``) and end as StoreError.
"""

from __future__ import annotations

import collections
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict, Unpack

from collector.domain.audit_chain import ChainEntry, append_entry
from collector.domain.canonical_json import JsonValue, canonical_json
from collector.domain.incident import Incident, IncidentState
from collector.domain.incident_record import IncidentRecord
from collector.domain.instants import iso_utc, parse_iso_utc
from collector.domain.risk import RiskAssessment
from collector.domain.snapshots import SnapshotError, restore, snapshot
from collector.store.base import StoredEvent, StoreError
from collector.store.database import LOCK_TIMEOUT_S, Database, Failure, Tx
from collector.store.dialects import PostgresDialect, SqlDialect, SQLiteDialect
from collector.store.events import EventStore
from collector.store.factory import SETTLE_S as FACTORY_SETTLE_S
from collector.store.workflow_base import DeviceActivity, EventRow, PendingNotification, QuarantinedEvent

__all__ = [
    "LOCK_TIMEOUT_S",
    "SETTLE_S",
    "WORKFLOW_LOCK",
    "PostgresWorkflowStore",
    "SQLWorkflowStore",
    "SQLiteWorkflowStore",
]

WORKFLOW_LOCK = 0x77666C6F  # "wflo": the advisory lock every workflow transaction takes first
# An id visible this long ago has no lower id still in flight (ingest takes ms, and is bounded by
# its statement timeout); one that commits later still is found by the workflow's sweep.
SETTLE_S = FACTORY_SETTLE_S
_CLOSED_STATES = (str(IncidentState.CLOSED), str(IncidentState.DISMISSED))
_EVENT_COLUMNS = "e.id, e.device, e.event_id, e.seq, e.kind, e.occurred_at, e.received_at, e.agent_version, e.body"
_INCIDENT_COLUMNS = "snapshot, draft_assessment, notified_grade, updated_at"
_AUDIT_COLUMNS = "seq, at, actor, action, subject, details_json, prev_hash, hash"
_QUARANTINE_COLUMNS = (
    "event_row, device, event_id, kind, reason, cause, first_attempt_at, last_attempt_at, attempts, workflow_version"
)
_COLLECTOR_MADE = "lost_device_report"  # stored under the lost device, but not sent by it
_KIND = re.compile(r"[a-z][a-z0-9_]*")
_FAILURE = Failure(StoreError, "workflow storage failed", busy="workflow storage is busy or unavailable")


def _in(n: int) -> str:
    return ",".join("?" * n)


def _event(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(row[1], row[2], int(row[3]), row[4], int(row[5]), int(row[6]), row[7], bytes(row[8]))


_NOTICE_COLUMNS = (
    "n.id, n.dedupe_key, n.kind, n.incident_id, n.payload, n.created_at, n.email_done, n.webhook_done, n.attempts"
)


def _notice(r: Sequence[Any]) -> PendingNotification:
    return PendingNotification(int(r[0]), r[1], r[2], r[3], json.loads(r[4]), int(r[5]), bool(r[6]), bool(r[7]),
                               int(r[8]))


def _event_row(row: Sequence[Any]) -> EventRow:
    return EventRow(int(row[0]), _event(row), None if row[9] is None else int(row[9]))


def _record(row: Sequence[Any]) -> IncidentRecord:
    try:
        incident = restore(Incident, json.loads(row[0]))
        draft = None if row[1] is None else restore(RiskAssessment, json.loads(row[1]))
    except (SnapshotError, ValueError) as exc:
        raise StoreError(f"stored incident cannot be read: {exc}") from exc
    return IncidentRecord(incident, draft, row[2], int(row[3]))


def _kinds_literal(kinds: Sequence[str]) -> str:
    """``kinds`` as SQL literals (so the partial index of breach-class events applies); snake_case only."""
    if not all(_KIND.fullmatch(k) for k in kinds):
        raise StoreError("event kinds must be snake_case names")
    return ",".join(f"'{k}'" for k in kinds)


def _quarantined(r: Sequence[Any]) -> QuarantinedEvent:
    return QuarantinedEvent(
        int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), int(r[6]), int(r[7]), int(r[8]), str(r[9])
    )


def _chain_entry(r: Sequence[Any]) -> ChainEntry:
    try:
        at = parse_iso_utc(r[1])
    except ValueError:
        at = parse_iso_utc("1970-01-01T00:00:00Z")  # an edited, unparseable time: verify flags the hash
    return ChainEntry(int(r[0]), at, str(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]), str(r[7]))


class _Reads:
    """Queries shared by the store (autocommit) and its transactions, over ``_q``."""

    _q: Database | Tx

    def get_incident(self, incident_id: str) -> IncidentRecord | None:
        """One incident, or None."""
        row = self._q.one(f"SELECT {_INCIDENT_COLUMNS} FROM wf_incidents WHERE incident_id = ?", (incident_id,))
        return None if row is None else _record(row)

    def list_incidents(self, states: Sequence[str] | None = None) -> list[IncidentRecord]:
        """Incidents, oldest first, optionally only in ``states``."""
        sql = f"SELECT {_INCIDENT_COLUMNS} FROM wf_incidents"
        params: list[str] = []
        if states is not None:
            if not states:
                return []
            sql += f" WHERE state IN ({_in(len(states))})"
            params = list(states)
        return [_record(r) for r in self._q.rows(sql + " ORDER BY opened_at, incident_id", params)]

    def incident_for_alert(self, alert_id: str) -> str | None:
        """The incident holding ``alert_id``."""
        row = self._q.one("SELECT incident_id FROM wf_alerts WHERE alert_id = ?", (alert_id,))
        return None if row is None else str(row[0])

    def find_event(self, device: str, event_id: str) -> EventRow | None:
        """One stored event by device and event id."""
        row = self._q.one(
            f"SELECT {_EVENT_COLUMNS}, d.lost_at FROM events e LEFT JOIN devices d ON d.name = e.device"
            " WHERE e.device = ? AND e.event_id = ?",
            (device, event_id),
        )
        return None if row is None else _event_row(row)

    def latest_posture_events(self, device: str, kinds: Sequence[str]) -> dict[str, StoredEvent]:
        """The device's newest event of each kind."""
        if not kinds:
            return {}
        rows = self._q.rows(
            f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.id IN ("
            f" SELECT MAX(id) FROM events WHERE device = ? AND kind IN ({_in(len(kinds))}) GROUP BY kind)",
            (device, *kinds),
        )
        return {r[4]: _event(r) for r in rows}

    def last_heard_from(self, device: str) -> int | None:
        """When the device's newest own event arrived."""
        row = self._q.one(
            "SELECT MAX(received_at) FROM events WHERE device = ? AND kind <> ?", (device, _COLLECTOR_MADE)
        )
        return None if row is None or row[0] is None else int(row[0])

    def device_lost_at(self, device: str) -> int | None:
        """When the device was marked lost."""
        row = self._q.one("SELECT lost_at FROM devices WHERE name = ?", (device,))
        return None if row is None or row[0] is None else int(row[0])

    def ico_edits(self, incident_id: str) -> dict[str, JsonValue]:
        """The ICO draft edits for the incident."""
        row = self._q.one("SELECT edits FROM wf_ico_drafts WHERE incident_id = ?", (incident_id,))
        return {} if row is None else dict(json.loads(row[0]))

    def counter(self, name: str) -> int:
        """A named counter."""
        row = self._q.one("SELECT value FROM wf_counters WHERE name = ?", (name,))
        return 0 if row is None else int(row[0])

    def warnings_sent(self, incident_id: str) -> set[str]:
        """Keys of warnings already sent."""
        rows = self._q.rows("SELECT warning_key FROM wf_warnings_sent WHERE incident_id = ?", (incident_id,))
        return {str(r[0]) for r in rows}

    def event_at(self, row_id: int) -> EventRow | None:
        """One stored event by its storage position."""
        row = self._q.one(
            f"SELECT {_EVENT_COLUMNS}, d.lost_at FROM events e LEFT JOIN devices d ON d.name = e.device"
            " WHERE e.id = ?",
            (row_id,),
        )
        return None if row is None else _event_row(row)

    def quarantined(self, limit: int = 1000) -> list[QuarantinedEvent]:
        """Quarantined events, oldest first."""
        rows = self._q.rows(f"SELECT {_QUARANTINE_COLUMNS} FROM wf_quarantine ORDER BY event_row LIMIT ?", (limit,))
        return [_quarantined(r) for r in rows]

    def quarantine_count(self) -> int:
        """How many events are quarantined."""
        row = self._q.one("SELECT COUNT(*) FROM wf_quarantine")
        return 0 if row is None else int(row[0])


class WorkflowTx(_Reads):
    """The writes of one workflow transaction (the workflow's lock is held)."""

    _q: Tx

    def __init__(self, tx: Tx) -> None:
        self._q = tx

    @property
    def db(self) -> Any:
        """The transaction's driver cursor (for tests that look inside)."""
        return self._q.cursor if isinstance(self._q, Tx) else None

    def open_incident_ids_for_device(self, device: str) -> list[str]:
        """Open incidents with an alert about ``device``."""
        rows = self._q.rows(
            "SELECT DISTINCT a.incident_id FROM wf_alerts a JOIN wf_incidents i ON i.incident_id = a.incident_id"
            f" WHERE a.device = ? AND i.state NOT IN ({_in(len(_CLOSED_STATES))}) ORDER BY a.incident_id",
            (device, *_CLOSED_STATES),
        )
        return [str(r[0]) for r in rows]

    def save_incident(self, record: IncidentRecord, now_us: int) -> None:
        """Insert or replace the incident row."""
        incident = record.incident
        self._q.run(
            "INSERT INTO wf_incidents(incident_id, state, opened_at, updated_at, snapshot, draft_assessment,"
            " notified_grade) VALUES (?,?,?,?,?,?,?) ON CONFLICT (incident_id) DO UPDATE SET state = excluded.state,"
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
        self._q.run(
            "INSERT INTO wf_alerts(alert_id, incident_id, kind, device, received_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT (alert_id) DO UPDATE SET incident_id = excluded.incident_id",
            (alert_id, incident_id, kind, device, received_at_us),
        )

    def append_audit(self, fields: Mapping[str, Any]) -> ChainEntry:
        """Append the next entry after the last stored one (at the next position) and move the head to it."""
        last = self._q.one(f"SELECT {_AUDIT_COLUMNS}, position FROM wf_audit ORDER BY position DESC LIMIT 1")
        previous = None if last is None else ChainEntry(int(last[0]), parse_iso_utc(last[1]), *last[2:8])
        entry = append_entry(previous, **fields)
        self._q.run(
            f"INSERT INTO wf_audit(position, {_AUDIT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
            (1 if last is None else int(last[8]) + 1, entry.seq, iso_utc(entry.at), entry.actor, entry.action,
             entry.subject, entry.details_json, entry.prev_hash, entry.hash),
        )  # fmt: skip
        self._q.run(
            "INSERT INTO wf_audit_head(id, seq, hash) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            (entry.seq, entry.hash),
        )
        return entry

    def record_warning(self, incident_id: str, key: str, at_us: int) -> bool:
        """Remember a warning as sent."""
        return (
            self._q.run(
                "INSERT INTO wf_warnings_sent(incident_id, warning_key, sent_at) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                (incident_id, key, at_us),
            )
            == 1
        )

    def enqueue_notification(
        self, dedupe_key: str, kind: str, incident_id: str, payload: Mapping[str, JsonValue], at_us: int
    ) -> bool:
        """Queue a notification once per ``dedupe_key``."""
        return (
            self._q.run(
                "INSERT INTO wf_notifications(dedupe_key, kind, incident_id, payload, created_at, next_attempt_at)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT (dedupe_key) DO NOTHING",
                (dedupe_key, kind, incident_id, canonical_json(dict(payload)), at_us, at_us),
            )
            == 1
        )

    def save_ico_edits(self, incident_id: str, edits: Mapping[str, JsonValue], at_us: int, by: str) -> None:
        """Replace the ICO draft edits."""
        self._q.run(
            "INSERT INTO wf_ico_drafts(incident_id, edits, updated_at, updated_by) VALUES (?,?,?,?)"
            " ON CONFLICT (incident_id) DO UPDATE SET edits = excluded.edits, updated_at = excluded.updated_at,"
            " updated_by = excluded.updated_by",
            (incident_id, canonical_json(dict(edits)), at_us, by),
        )

    def set_counter(self, name: str, value: int) -> None:
        """Set a named counter."""
        self._q.run(
            "INSERT INTO wf_counters(name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def clear_lost(self, device: str) -> bool:
        """Withdraw the lost marking."""
        return self._q.run("UPDATE devices SET lost_at = NULL WHERE name = ? AND lost_at IS NOT NULL", (device,)) == 1

    def mark_handled(self, row_ids: Sequence[int], at_us: int) -> None:
        """Record breach-class events as dealt with; repeats are harmless."""
        self._q.many(
            "INSERT INTO wf_events_handled(event_row, handled_at) VALUES (?, ?) ON CONFLICT (event_row) DO NOTHING",
            [(row_id, at_us) for row_id in row_ids],
        )

    def quarantine(self, row: EventRow, reason: str, cause: str, at_us: int, version: str) -> None:
        """Quarantine an event, or count another failed attempt on one already there."""
        event = row.event
        self._q.run(
            f"INSERT INTO wf_quarantine({_QUARANTINE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,1,?)"
            " ON CONFLICT (event_row) DO UPDATE SET reason = excluded.reason, cause = excluded.cause,"
            " last_attempt_at = excluded.last_attempt_at, attempts = wf_quarantine.attempts + 1,"
            " workflow_version = excluded.workflow_version",
            (row.row_id, event.device, event.event_id, event.kind, reason, cause, at_us, at_us, version),
        )

    def release(self, row_id: int) -> bool:
        """Take an event out of quarantine."""
        return self._q.run("DELETE FROM wf_quarantine WHERE event_row = ?", (row_id,)) == 1


class SQLWorkflowStore(_Reads):
    """``WorkflowStore`` over one database; one connection per thread."""

    def __init__(
        self,
        dialect: SqlDialect,
        *,
        lock_timeout_s: float = LOCK_TIMEOUT_S,
        settle_s: float = SETTLE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        EventStore(dialect).close()  # SQLite: applies pending migrations; PostgreSQL: refuses an old schema
        self.dialect = dialect
        self._database = Database(dialect, failure=_FAILURE, lock_timeout_s=lock_timeout_s)
        self._q = self._database
        self._settle_s = settle_s
        self._monotonic = monotonic
        self._visible: collections.deque[tuple[float, int]] = collections.deque()  # (when, newest id seen)
        self._visible_lock = threading.Lock()

    @property
    def db(self) -> Any:
        """This thread's driver connection (for tests that look inside)."""
        return self._database.connection()

    @contextmanager
    def transaction(self) -> Iterator[WorkflowTx]:
        """Take the workflow lock, yield the writes, commit; rolls back on any error."""
        with self._database.transaction(lock=WORKFLOW_LOCK) as tx:
            yield WorkflowTx(tx)

    def events_after(self, row_id: int, kinds: Sequence[str], limit: int) -> tuple[list[EventRow], int]:
        """Events of interest after ``row_id``, and a position up to which nothing else can still arrive.

        Kinds are written into the SQL as literals so the database can use the partial index of
        breach-class events; they must be plain snake_case names.
        """
        listed = _kinds_literal(kinds)
        of_kinds, not_of_kinds = (f"e.kind IN ({listed})", f"e.kind NOT IN ({listed})") if kinds else ("1 = 0", "1 = 1")
        with self._database.snapshot() as tx:
            rows = tx.rows(
                f"SELECT {_EVENT_COLUMNS}, d.lost_at FROM events e LEFT JOIN devices d ON d.name = e.device"
                f" WHERE {of_kinds} AND e.id > ? ORDER BY e.id LIMIT ?",
                (row_id, limit),
            )
            for name, lost_at in tx.rows("SELECT name, lost_at FROM devices WHERE lost_at IS NOT NULL"):
                rows += tx.rows(
                    f"SELECT {_EVENT_COLUMNS}, ? FROM events e WHERE e.device = ? AND e.id > ?"
                    f" AND e.received_at > ? AND {not_of_kinds} ORDER BY e.id LIMIT ?",
                    (lost_at, name, row_id, lost_at, limit),
                )
            newest_row = tx.one("SELECT COALESCE(MAX(id), 0) FROM events")
        newest = 0 if newest_row is None else int(newest_row[0])
        found = sorted((_event_row(r) for r in rows), key=lambda row: row.row_id)[:limit]
        upto = found[-1].row_id if len(found) >= limit else max(newest, row_id)
        if self.dialect.ids_visible_in_order:
            return found, upto
        return found, max(row_id, min(upto, self._settled(newest)))

    def unhandled_events(self, kinds: Sequence[str], upto: int, since_us: int, limit: int) -> list[EventRow]:
        """Events of ``kinds`` at or below ``upto``, received since ``since_us``, neither handled nor quarantined.

        One query for both databases: an anti-join on the two small workflow tables, over the
        partial index of breach-class events.
        """
        if not kinds:
            return []
        rows = self._database.rows(
            f"SELECT {_EVENT_COLUMNS}, d.lost_at FROM events e LEFT JOIN devices d ON d.name = e.device"
            f" WHERE e.kind IN ({_kinds_literal(kinds)}) AND e.id <= ? AND e.received_at >= ?"
            " AND NOT EXISTS (SELECT 1 FROM wf_events_handled h WHERE h.event_row = e.id)"
            " AND NOT EXISTS (SELECT 1 FROM wf_quarantine q WHERE q.event_row = e.id)"
            " ORDER BY e.id LIMIT ?",
            (upto, since_us, limit),
        )
        return [_event_row(r) for r in rows]

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
        rows = self._database.rows(
            f"SELECT name, last_seen_at, revoked_at, lost_at FROM devices ORDER BY name{self.dialect.by_code_point}"
        )
        return [DeviceActivity(r[0], r[1], r[2] is not None, r[3]) for r in rows]

    def open_gaps(self) -> list[tuple[str, int, int, int]]:
        """Unexplained gaps."""
        rows = self._database.rows(
            "SELECT device, first_seq, last_seq, detected_at FROM sequence_gaps WHERE explained IS NULL"
            " ORDER BY device, first_seq"
        )
        return [(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def pending_notifications(self, now_us: int, limit: int = 100) -> list[PendingNotification]:
        """Notifications still to deliver on some channel."""
        rows = self._database.rows(
            f"SELECT {_NOTICE_COLUMNS} FROM wf_notifications n"
            " WHERE (n.email_done = 0 OR n.webhook_done = 0) AND n.next_attempt_at <= ? ORDER BY n.id LIMIT ?",
            (now_us, limit),
        )
        return [_notice(r) for r in rows]

    def claim_notification(self, holder: str, now_us: int, lease_us: int) -> PendingNotification | None:
        """Take the oldest due notice nobody holds (or whose holder's lease ran out) for ``lease_us``.

        The claim is one conditional upsert (``ON CONFLICT ... DO UPDATE ... WHERE`` the lease
        has expired ``RETURNING``), the same on both databases, inside the workflow lock: of
        several collectors asking at once, exactly one gets each notice.
        """
        with self._database.transaction(lock=WORKFLOW_LOCK) as tx:
            row = tx.one(
                f"SELECT {_NOTICE_COLUMNS} FROM wf_notifications n"
                " LEFT JOIN wf_notice_claims c ON c.notification_id = n.id"
                " WHERE (n.email_done = 0 OR n.webhook_done = 0) AND n.next_attempt_at <= ?"
                " AND (c.claimed_until IS NULL OR c.claimed_until <= ?) ORDER BY n.id LIMIT 1",
                (now_us, now_us),
            )
            if row is None:
                return None
            taken = tx.rows(
                "INSERT INTO wf_notice_claims(notification_id, claimed_by, claimed_until) VALUES (?,?,?)"
                " ON CONFLICT (notification_id) DO UPDATE SET claimed_by = excluded.claimed_by,"
                " claimed_until = excluded.claimed_until WHERE wf_notice_claims.claimed_until <= ?"
                " RETURNING notification_id",
                (int(row[0]), holder, now_us + lease_us, now_us),
            )
        return _notice(row) if taken else None

    def update_notification(
        self, id: int, *, email_done: bool, webhook_done: bool, attempts: int, next_attempt_us: int, error: str | None
    ) -> None:
        """Record a delivery attempt."""
        with self._database.transaction(lock=WORKFLOW_LOCK) as tx:
            tx.run(
                "UPDATE wf_notifications SET email_done = ?, webhook_done = ?, attempts = ?, next_attempt_at = ?,"
                " last_error = ? WHERE id = ?",
                (int(email_done), int(webhook_done), attempts, next_attempt_us, error, id),
            )
            tx.run("DELETE FROM wf_notice_claims WHERE notification_id = ?", (id,))  # the attempt is over

    def audit_entries(self) -> Iterator[ChainEntry]:
        """Audit entries in storage order (not trusting their seq), streamed."""
        for r in self._database.stream(f"SELECT {_AUDIT_COLUMNS} FROM wf_audit ORDER BY position"):
            yield _chain_entry(r)

    def audit_head(self) -> tuple[int, str] | None:
        """The recorded head."""
        row = self._database.one("SELECT seq, hash FROM wf_audit_head WHERE id = 1")
        return None if row is None else (int(row[0]), str(row[1]))

    def close(self) -> None:
        """Close every connection this store opened."""
        self._database.close()


class SQLiteWorkflowStore(SQLWorkflowStore):
    """The workflow's store in the collector's SQLite file."""

    def __init__(self, path: Path) -> None:
        super().__init__(SQLiteDialect(path))


class _Options(TypedDict, total=False):
    """``SQLWorkflowStore``'s keyword options (see its signature for their defaults)."""

    lock_timeout_s: float
    settle_s: float
    monotonic: Callable[[], float]


class PostgresWorkflowStore(SQLWorkflowStore):
    """The workflow's store in a shared PostgreSQL database (refuses a schema `migrate` has not updated)."""

    def __init__(self, url: str, **options: Unpack[_Options]) -> None:
        super().__init__(PostgresDialect(url), **options)
