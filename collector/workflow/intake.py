"""From stored events to incidents: the ingest side of the workflow.

The workflow follows the events table with a cursor (the last row it has dealt with),
kept in the same transaction as the incidents it changes. After each durable commit the
serving process wakes it; the periodic tick catches up too. So the workflow is
at-least-once and, because alert ids come from their source and an alert already placed
is skipped, idempotent: ingest never waits for it and never fails because of it.

Two kinds of event matter: breach-class events (egress, case files found, lock failed,
lost-device reports), and any event from a device that was marked lost before the event
arrived ("check-in after lost"). A Heartbeat call from a lost device counts too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from collector.domain.alerts import Alert, alert_for_lost_device_check_in
from collector.domain.errors import DomainError
from collector.store.workflow_base import EVENT_CURSOR, EventRow, WorkflowStore
from collector.wire.event_codec import ALERT_KINDS, EventDecodeError, alert_from_event, lockdown_method
from collector.workflow.batch import IncidentBatch
from collector.workflow.policy import WorkflowPolicy
from collector.workflow.times import from_us

log = logging.getLogger(__name__)

_COLLECTOR_MADE = "lost_device_report"


@dataclass(frozen=True)
class IntakeReport:
    """What one catch-up did: events read, alerts newly placed, and where the cursor stands."""

    events: int = 0
    alerts: int = 0
    cursor: int = 0


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

    def __init__(self, store: WorkflowStore, policy: WorkflowPolicy, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock
        self._cursor = 0

    def catch_up(self) -> IntakeReport:
        """Deal with every event stored since the cursor, one transaction per batch.

        When nothing of interest arrived the cursor moves in memory only (no write
        transaction to compete with ingest); ``save_cursor`` persists it on the tick.
        """
        events = alerts = 0
        cursor = max(self._cursor, self._store.counter(EVENT_CURSOR))
        while True:
            rows, upto = self._store.events_after(cursor, ALERT_KINDS, self._policy.batch_size)
            if rows:
                with self._store.transaction() as tx:
                    current = tx.counter(EVENT_CURSOR)
                    batch = IncidentBatch(tx, self._clock(), self._policy)
                    for row in rows:
                        if row.row_id > current:
                            alerts += self._place(batch, self._alerts_of(row))
                    batch.finish()
                    upto = max(current, upto)
                    tx.set_counter(EVENT_CURSOR, upto)
            cursor = self._cursor = max(cursor, upto)
            events += len(rows)
            if len(rows) < self._policy.batch_size:
                return IntakeReport(events, alerts, cursor)

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
        self.place_alerts([alert])
        return self._store.incident_for_alert(alert.alert_id)

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
