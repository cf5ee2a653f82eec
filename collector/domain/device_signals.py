"""Breach-class signals the collector infers itself: a device gone silent, events that never came.

Both are pure checks over facts the store already keeps (a device's last-seen time; its
open sequence gaps from ``collector.ingest.sequence``). The caller runs them on a timer and
stores the alerts; alert ids are stable, so running a check twice yields the same alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.domain.alerts import Alert, alert_for_sequence_gap, alert_for_silent_device
from collector.domain.event_facts import SeqRange
from collector.domain.instants import require_utc


@dataclass(frozen=True)
class DeviceSignalPolicy:
    """How long a device may be silent, and how long a sequence gap may stay open, before an alert.

    ``max_silence`` allows for a fortnight's leave by default. ``gap_settle`` gives a late
    ``events_shed`` report (sent after the agent's outbox drains) time to explain a gap.
    """

    max_silence: timedelta = timedelta(days=14)
    gap_settle: timedelta = timedelta(hours=1)


DEFAULT_DEVICE_SIGNAL_POLICY = DeviceSignalPolicy()


def silent_device_alert(
    device_id: str,
    last_seen_at: datetime,
    now: datetime,
    policy: DeviceSignalPolicy = DEFAULT_DEVICE_SIGNAL_POLICY,
) -> Alert | None:
    """The alert for ``device_id`` if it has been silent for longer than policy allows, else None."""
    last_seen = require_utc(last_seen_at, "last_seen_at")
    current = require_utc(now, "now")
    if current - last_seen <= policy.max_silence:
        return None
    return alert_for_silent_device(device_id, last_seen, current)


def sequence_gap_alerts(
    device_id: str,
    open_gaps: Iterable[tuple[SeqRange, datetime]],
    now: datetime,
    policy: DeviceSignalPolicy = DEFAULT_DEVICE_SIGNAL_POLICY,
) -> tuple[Alert, ...]:
    """Alerts for the device's unexplained gaps (range, first detected) open longer than ``gap_settle``."""
    current = require_utc(now, "now")
    alerts: list[Alert] = []
    for gap, detected_at in open_gaps:
        detected = require_utc(detected_at, "detected_at")
        if current - detected > policy.gap_settle:
            alerts.append(alert_for_sequence_gap(device_id, gap, detected))
    return tuple(alerts)
