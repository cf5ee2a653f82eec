"""From stored events to incidents: the ingest side of the workflow.

The workflow follows the events table with a cursor (the last row it has dealt with),
kept in the same transaction as the incidents it changes. After each durable commit the
serving process wakes it; the periodic tick catches up too. So the workflow is
at-least-once and, because alert ids come from their source and an alert already placed
is skipped, idempotent: ingest never waits for it and never fails because of it.

Two kinds of event matter: breach-class events (egress, case files found, lock failed,
lost-device reports), and any event from a device that was marked lost before the event
arrived ("check-in after lost"). A Heartbeat call from a lost device counts too.

Nothing one event holds stops the cursor. When a batch fails, its events are handled one
at a time, and one that still fails is quarantined with its reason (``wf_quarantine``)
while the cursor moves on for every other device. Quarantined events are retried when the
collector's version changes (an upgrade may have fixed the cause) and on demand.

Every breach-class event handled is recorded (``wf_events_handled``), and a periodic sweep
feeds any breach-class event the cursor passed without handling it back through the same
path. That closes PostgreSQL's settle-window gap: an ingest transaction that committed after
the reader's settle window had let the cursor pass its id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata

from collector.domain.alerts import Alert, alert_for_lost_device_check_in
from collector.domain.errors import DomainError
from collector.domain.grouping import with_check_in_network
from collector.store.base import StoreError
from collector.store.workflow_base import EVENT_CURSOR, EventRow, WorkflowStore, WorkflowTx
from collector.wire.event_codec import ALERT_KINDS, EventDecodeError, alert_from_event, lockdown_method
from collector.workflow.batch import IncidentBatch
from collector.workflow.policy import WorkflowPolicy
from collector.workflow.times import from_us, to_us

log = logging.getLogger(__name__)

_COLLECTOR_MADE = "lost_device_report"
_BREACH_KINDS = frozenset(ALERT_KINDS)
STORAGE, EVENT = "storage", "event"  # why an event is quarantined: the database failed on it, or it did
_REASON_CHARS = 300


def _package_version() -> str:
    try:
        return metadata.version("caseguard")
    except metadata.PackageNotFoundError:
        return "unknown"


# The version quarantine records are stamped with; a collector of another version retries them.
WORKFLOW_VERSION = _package_version()


def failure_reason(exc: BaseException) -> str:
    """Why an event could not be handled, short enough for a table cell."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1] + "…"


@dataclass(frozen=True)
class RetryReport:
    """What a retry of quarantined events did."""

    retried: int = 0
    released: int = 0
    still_failing: int = 0


@dataclass(frozen=True)
class IntakeReport:
    """What one catch-up did: events read, alerts newly placed, and where the cursor stands."""

    events: int = 0
    alerts: int = 0
    cursor: int = 0
    quarantined: int = 0


def alerts_for_row(row: EventRow) -> list[Alert]:
    """The alerts one stored event raises (possibly none; a lost device's event adds a check-in)."""
    event = row.event
    alerts: list[Alert] = []
    if event.kind in ALERT_KINDS:
        alert = alert_from_event(event)
        if alert is not None:
            alerts.append(alert)
    lost_at = row.device_lost_at_us
    if lost_at is not None and event.kind != _COLLECTOR_MADE and event.received_at_us > lost_at:
        seen = from_us(event.received_at_us)
        locked_by = lockdown_method(event)  # the agent confirming it locked every session: its own alert
        alerts.append(alert_for_lost_device_check_in(
            event.device, from_us(lost_at), from_us(event.occurred_at_us) if locked_by else seen, seen,
            event.event_id, locked_by=locked_by,
        ))  # fmt: skip
    return alerts


class Intake:
    """Places alerts from events (and from the collector's own checks) into incidents."""

    def __init__(
        self,
        store: WorkflowStore,
        policy: WorkflowPolicy,
        clock: Callable[[], datetime],
        version: str = WORKFLOW_VERSION,
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock
        self._version = version
        self._cursor = 0
        self._quarantined_here: set[int] = set()  # rows this process quarantined (not re-read each round)

    def catch_up(self) -> IntakeReport:
        """Deal with every event stored since the cursor, one transaction per batch.

        When nothing of interest arrived the cursor moves in memory only (no write
        transaction to compete with ingest); ``save_cursor`` persists it on the tick.
        """
        events = alerts = quarantined = 0
        cursor = max(self._cursor, self._store.counter(EVENT_CURSOR))
        while True:
            rows, upto = self._store.events_after(cursor, ALERT_KINDS, self._policy.batch_size)
            todo = [r for r in rows if r.row_id not in self._quarantined_here]
            if todo or (rows and upto > cursor):
                placed, held = self._handle(todo, advance_to=upto)
                alerts += placed
                quarantined += held
            cursor = self._cursor = max(cursor, upto)
            self._quarantined_here = {r for r in self._quarantined_here if r > cursor}
            events += len(rows)
            if len(rows) < self._policy.batch_size:
                return IntakeReport(events, alerts, cursor, quarantined)

    def sweep(self) -> IntakeReport:
        """Feed every breach-class event the cursor passed without handling it through the workflow.

        Looks back ``policy.sweep_lookback`` (an ingest transaction never takes that long) at
        events at or below the cursor that are neither handled nor quarantined. Events the
        database failed on are retried first.
        """
        retry = self.retry_quarantined(storage_only=True)
        events, alerts, quarantined = retry.retried, 0, retry.still_failing
        upto = max(self._cursor, self._store.counter(EVENT_CURSOR))
        since = to_us(self._clock() - self._policy.sweep_lookback)
        while True:
            rows = self._store.unhandled_events(ALERT_KINDS, upto, since, self._policy.batch_size)
            if not rows:
                break
            found = len(rows)
            log.warning("the sweep found %d breach-class event(s) the cursor had passed; handling them now", found)
            placed, held = self._handle(rows, advance_to=None)
            events, alerts, quarantined = events + found, alerts + placed, quarantined + held
            if found < self._policy.batch_size:
                break
        return IntakeReport(events, alerts, upto, quarantined)

    def retry_quarantined(self, *, other_versions_only: bool = False, storage_only: bool = False) -> RetryReport:
        """Handle quarantined events again; each one that now works leaves quarantine.

        ``other_versions_only``: only those quarantined by a collector of another version
        (after an upgrade); ``storage_only``: only those the database failed on (the sweep
        retries them, as that may have passed). The others keep their place until asked.
        """
        retried = released = still = 0
        for q in self._store.quarantined(limit=100_000):
            if other_versions_only and q.workflow_version == self._version:
                continue
            if storage_only and q.cause != STORAGE:
                continue
            retried += 1
            row = self._store.event_at(q.row_id)
            if row is None:  # the event itself is gone (a restored or pruned database)
                with self._store.transaction() as tx:
                    tx.release(q.row_id)
                released += 1
                continue
            try:
                with self._store.transaction() as tx:
                    batch = IncidentBatch(tx, self._clock(), self._policy)
                    self._place(batch, alerts_for_row(row))
                    batch.finish()
                    self._mark_handled(tx, [row])
                    tx.release(row.row_id)
            except Exception as exc:
                self._quarantine(row, exc)
                still += 1
                continue
            self._quarantined_here.discard(row.row_id)
            released += 1
            log.warning("quarantined event %s (%s) handled on retry", row.event.event_id, row.event.kind)
        return RetryReport(retried, released, still)

    def _handle(self, rows: Sequence[EventRow], *, advance_to: int | None) -> tuple[int, int]:
        """Place the rows' alerts in one transaction; if that fails, one row at a time.

        ``advance_to``: move the cursor there (catch-up); None leaves it (the sweep). Returns
        (alerts placed, events quarantined).
        """
        try:
            return self._handle_together(rows, advance_to), 0
        except StoreError:
            if not rows:
                raise
            log.warning("workflow batch of %d events failed in storage; handling each alone", len(rows))
        except Exception as exc:
            log.warning("workflow batch of %d events failed (%s); handling each alone", len(rows), type(exc).__name__)
        alerts = quarantined = 0
        for row in rows:
            placed = self._handle_alone(row)
            if placed is None:
                quarantined += 1
            else:
                alerts += placed
        if advance_to is not None:
            with self._store.transaction() as tx:
                tx.set_counter(EVENT_CURSOR, max(tx.counter(EVENT_CURSOR), advance_to))
        return alerts, quarantined

    def _handle_together(self, rows: Sequence[EventRow], advance_to: int | None) -> int:
        alerts = 0
        with self._store.transaction() as tx:
            current = tx.counter(EVENT_CURSOR) if advance_to is not None else 0
            batch = IncidentBatch(tx, self._clock(), self._policy)
            fresh = [row for row in rows if row.row_id > current]
            for row in fresh:
                alerts += self._place(batch, alerts_for_row(row))
            batch.finish()
            self._mark_handled(tx, fresh)
            if advance_to is not None:
                tx.set_counter(EVENT_CURSOR, max(current, advance_to))
        return alerts

    def _handle_alone(self, row: EventRow) -> int | None:
        """One row in its own transaction: alerts placed, or None when it was quarantined.

        A storage error is tried once more before it counts against the event (the database
        may just have been busy); if the quarantine cannot be written either, it propagates
        and the round fails (the database, not the event, is the problem).
        """
        for attempt in (1, 2):
            try:
                with self._store.transaction() as tx:
                    batch = IncidentBatch(tx, self._clock(), self._policy)
                    placed = self._place(batch, alerts_for_row(row))
                    batch.finish()
                    self._mark_handled(tx, [row])
                return placed
            except StoreError as exc:
                if attempt == 2:
                    self._quarantine(row, exc)
            except Exception as exc:
                self._quarantine(row, exc)
                break
        return None

    def _quarantine(self, row: EventRow, exc: BaseException) -> None:
        with self._store.transaction() as tx:
            cause = STORAGE if isinstance(exc, StoreError) else EVENT
            tx.quarantine(row, failure_reason(exc), cause, to_us(self._clock()), self._version)
        self._quarantined_here.add(row.row_id)
        # The event reference and the error's type only: the message may quote stored text.
        log.error(
            "event %s (%s) from %s quarantined: the breach workflow cannot handle it (%s); the others go on",
            row.event.event_id, row.event.kind, row.event.device, type(exc).__name__,
        )  # fmt: skip

    def _mark_handled(self, tx: WorkflowTx, rows: Iterable[EventRow]) -> None:
        # Breach-class only: those are what the sweep looks for.
        ids = [r.row_id for r in rows if r.event.kind in _BREACH_KINDS]
        if ids:
            tx.mark_handled(ids, to_us(self._clock()))

    def save_cursor(self) -> None:
        """Persist a cursor that moved past uninteresting events only (cheap to redo if lost)."""
        if self._cursor > self._store.counter(EVENT_CURSOR):
            with self._store.transaction() as tx:
                if self._cursor > tx.counter(EVENT_CURSOR):
                    tx.set_counter(EVENT_CURSOR, self._cursor)

    def place_event(self, device: str, event_id: str) -> str | None:
        """Deal with one stored event now (e.g. a lost-device report); the incident its alert is in."""
        row = self._store.find_event(device, event_id)
        if row is None:
            return None
        found = self._alerts_of(row)
        if not found:
            return None
        with self._store.transaction() as tx:
            batch = IncidentBatch(tx, self._clock(), self._policy)
            placed = batch.place(found[0])
            self._place(batch, found[1:])
            batch.finish()
            self._mark_handled(tx, [row])
        return placed.incident_id

    def place_alerts(self, alerts: Iterable[Alert]) -> int:
        """Place alerts from the collector's checks; returns how many were new. Known ones cost no write."""
        fresh = [a for a in alerts if self._store.incident_for_alert(a.alert_id) is None]
        if not fresh:
            return 0
        with self._store.transaction() as tx:
            batch = IncidentBatch(tx, self._clock(), self._policy)
            count = self._place(batch, fresh)
            batch.finish()
        return count

    def lost_device_heard(self, device: str, at: datetime, source: str = "heartbeat", network: str = "") -> str | None:
        """A device marked lost called in (e.g. Heartbeat) from ``network``: raise the check-in alert; its incident."""
        lost_at = self._store.device_lost_at(device)
        if lost_at is None:
            return None
        alert = alert_for_lost_device_check_in(device, from_us(lost_at), at, at, source, network=network)
        if not self.place_alerts([alert]) and network:
            self._add_network(alert)
        return self._store.incident_for_alert(alert.alert_id)

    def _add_network(self, alert: Alert) -> None:
        """The day's check-in came first as an event (no address): give it the heartbeat's network class."""
        incident_id = self._store.incident_for_alert(alert.alert_id)
        record = self._store.get_incident(incident_id) if incident_id else None
        if record is None or with_check_in_network(record.incident, alert) is None:
            return  # already known: a read, no write
        with self._store.transaction() as tx:
            batch = IncidentBatch(tx, self._clock(), self._policy)
            batch.place(alert)
            batch.finish()

    @staticmethod
    def _alerts_of(row: EventRow) -> list[Alert]:
        try:
            return alerts_for_row(row)
        except (EventDecodeError, DomainError) as exc:
            # A body that cannot be read now never will be: record why and move on.
            log.warning("event %s (%s) skipped by the breach workflow: %s", row.event.event_id, row.event.kind, exc)
            return []

    @staticmethod
    def _place(batch: IncidentBatch, alerts: Iterable[Alert]) -> int:
        return sum(1 for a in alerts if batch.place(a).new)
