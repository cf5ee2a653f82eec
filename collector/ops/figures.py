"""Reading the figures operators watch from the workflow's store (at scrape and probe time)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from collector.domain.clocks import clock_status
from collector.ops.metrics import StoreFigures
from collector.store.workflow_base import EVENT_CURSOR, WorkflowStore
from collector.wire.event_codec import ALERT_KINDS
from collector.workflow.checks import OPEN_STATE_NAMES
from collector.workflow.policy import WorkflowPolicy
from collector.workflow.times import from_us, to_us

DEADLINE_SOON = timedelta(hours=24)
# As "now" for the notice queue: every queued notice, whenever its next attempt is due.
_EVERYTHING_DUE_US = 2**62


def read_figures(store: WorkflowStore, policy: WorkflowPolicy, now: datetime) -> StoreFigures:
    """The database's figures as of ``now``."""
    records = store.list_incidents()
    by_state = Counter(str(r.incident.state) for r in records)
    due = 0
    open_states = set(OPEN_STATE_NAMES)
    for record in records:
        if str(record.incident.state) not in open_states:
            continue
        status = clock_status(record.incident, policy.clock)
        remaining = status.remaining(now)
        if status.running and remaining is not None and remaining <= DEADLINE_SOON:
            due += 1
    pending = store.pending_notifications(_EVERYTHING_DUE_US, limit=10_000)
    oldest = min((n.created_at_us for n in pending), default=None)
    silent = sum(
        1
        for d in store.device_activity()
        if not d.revoked and d.lost_at_us is None and d.last_seen_at_us is not None
        and now - from_us(d.last_seen_at_us) > policy.device_signals.max_silence
    )
    cursor = store.counter(EVENT_CURSOR)
    ahead, _ = store.events_after(cursor, ALERT_KINDS, 1)  # not yet reached by the cursor
    passed = store.unhandled_events(ALERT_KINDS, cursor, to_us(now - policy.sweep_lookback), 1)  # for the sweep
    oldest_waiting = min((r.event.received_at_us for r in (*ahead, *passed)), default=None)
    lag = 0.0 if oldest_waiting is None else (now - from_us(oldest_waiting)).total_seconds()
    return StoreFigures(
        incidents_by_state=dict(by_state),
        notices_queued=len(pending),
        notices_failing=sum(1 for n in pending if n.attempts > 0),
        oldest_undelivered_age_s=None if oldest is None else (now - from_us(oldest)).total_seconds(),
        deadline_warnings_due=due,
        silent_devices=silent,
        workflow_lag_s=max(0.0, lag),
        quarantined_events=store.quarantine_count(),
    )
