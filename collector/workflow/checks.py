"""The periodic checks: silent devices, unexplained sequence gaps, and deadline warnings.

Silence and gaps become alerts (the domain's ``device_signals`` decides, with stable alert
ids, so a check repeated every minute raises each alert once). A deadline warning is
recorded as sent and queued for the IG team in one transaction, keyed by incident and
threshold: each threshold is queued exactly once, and delivery is at-least-once per
channel (see ``dispatch``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from collector.domain.alerts import Alert
from collector.domain.clocks import ClockKind, WarningKey, warnings_due
from collector.domain.device_signals import sequence_gap_alerts, silent_device_alert
from collector.domain.event_facts import SeqRange
from collector.domain.incident import OPEN_STATES
from collector.domain.incident_record import IncidentRecord
from collector.domain.lifecycle import SYSTEM_ACTOR
from collector.store.workflow_base import WorkflowStore
from collector.workflow.batch import IncidentBatch
from collector.workflow.notices import NoticeKind, notice_payload
from collector.workflow.policy import WorkflowPolicy
from collector.workflow.times import from_us, to_us

log = logging.getLogger(__name__)

OPEN_STATE_NAMES: tuple[str, ...] = tuple(sorted(str(s) for s in OPEN_STATES))


def parse_warning_key(text: str) -> WarningKey | None:
    """The ``WarningKey`` stored as ``WarningKey.as_text()``, or None if unreadable."""
    clock, _, seconds = text.partition(":")
    try:
        return WarningKey(ClockKind(clock), timedelta(seconds=int(seconds)))
    except ValueError:
        return None


def device_signal_alerts(store: WorkflowStore, now: datetime, policy: WorkflowPolicy) -> list[Alert]:
    """Alerts for devices silent too long and for sequence gaps left open past the settle time.

    Revoked devices and devices already marked lost (they have their own incident) are not
    checked for silence.
    """
    alerts: list[Alert] = []
    for device in store.device_activity():
        if device.revoked or device.lost_at_us is not None or device.last_seen_at_us is None:
            continue
        silent = silent_device_alert(device.name, from_us(device.last_seen_at_us), now, policy.device_signals)
        if silent is not None:
            alerts.append(silent)
    gaps: dict[str, list[tuple[SeqRange, datetime]]] = {}
    for name, first, last, detected_us in store.open_gaps():
        gaps.setdefault(name, []).append((SeqRange(first, last), from_us(detected_us)))
    for name, open_gaps in gaps.items():
        alerts.extend(sequence_gap_alerts(name, open_gaps, now, policy.device_signals))
    return alerts


def _due(record: IncidentRecord, sent: set[str], now: datetime, policy: WorkflowPolicy) -> list[tuple[str, str]]:
    keys = {k for k in map(parse_warning_key, sent) if k is not None}
    return [(w.key.as_text(), w.message) for w in warnings_due(record.incident, keys, now, policy.clock)]


def send_deadline_warnings(store: WorkflowStore, clock: Callable[[], datetime], policy: WorkflowPolicy) -> int:
    """Queue every deadline warning now due; returns how many were queued."""
    queued = 0
    now = clock()
    for record in store.list_incidents(OPEN_STATE_NAMES):
        incident_id = record.incident_id
        if not _due(record, store.warnings_sent(incident_id), now, policy):
            continue  # the common case: no write transaction at all
        with store.transaction() as tx:
            batch = IncidentBatch(tx, now, policy)
            current = batch.load(incident_id)
            for key, message in _due(current, tx.warnings_sent(incident_id), now, policy):
                if not tx.record_warning(incident_id, key, to_us(now)):
                    continue
                payload = notice_payload(NoticeKind.DEADLINE_WARNING, current, now, policy.clock, message=message)
                payload["warning"] = key
                tx.enqueue_notification(
                    f"warning:{incident_id}:{key}", str(NoticeKind.DEADLINE_WARNING), incident_id, payload, to_us(now)
                )
                batch.audit(SYSTEM_ACTOR, "incident.deadline_warning", incident_id, {"warning": key})
                queued += 1
    return queued
