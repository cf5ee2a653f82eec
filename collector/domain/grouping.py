"""Which incident a new alert belongs to, and splitting an alert back out.

Rules, most specific first:

1. COPY_BURST: same device and same copy burst id.
2. LOST_DEVICE: a loss report, a silence alert or a lost device checking in again, for a
   device that already has one of those open.
3. SAME_DESTINATION: egress or found-on-volume for the same device and destination
   (class, kind, volume serial hash) within ``destination_window`` of a sighting.
4. SAME_DEVICE_SIGNAL: lock failures (or sequence gaps) on the same device within
   ``device_signal_window``, so one faulty locker does not open a hundred incidents.

When several open incidents match, the best rule wins, then the nearest sighting in
time, then the smallest incident id, so the answer never depends on the order of the
candidates. Alerts are attached whole: grouping never discards a field.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from collector.domain.alerts import Alert, AlertKind
from collector.domain.errors import GroupingError
from collector.domain.incident import AuditRecord, Incident, IncidentEvent, IncidentState, Transition
from collector.domain.instants import require_utc
from collector.domain.lifecycle import SYSTEM_ACTOR


class GroupingRule(enum.IntEnum):
    """Why an alert joined an incident; lower values are more specific and win ties."""

    COPY_BURST = 1
    LOST_DEVICE = 2
    SAME_DESTINATION = 3
    SAME_DEVICE_SIGNAL = 4


_DESTINATION_KINDS = frozenset(
    {AlertKind.CASE_FILE_EGRESS, AlertKind.CASE_FILES_FOUND, AlertKind.UNINSPECTABLE_DESTINATION}
)
_LOSS_KINDS = frozenset({AlertKind.LOST_DEVICE, AlertKind.DEVICE_SILENT, AlertKind.LOST_DEVICE_CHECK_IN})
_DEVICE_SIGNAL_KINDS = frozenset({AlertKind.LOCK_FAILED, AlertKind.SEQUENCE_GAP})


@dataclass(frozen=True)
class GroupingPolicy:
    """How close in time related alerts must be to share an incident."""

    destination_window: timedelta = timedelta(minutes=30)
    device_signal_window: timedelta = timedelta(minutes=30)


DEFAULT_GROUPING_POLICY = GroupingPolicy()


@dataclass(frozen=True)
class Sighting:
    """Alerts of one incident on one device under one key, seen between ``first_at`` and ``last_at``."""

    device_id: str
    key: str
    first_at: datetime
    last_at: datetime

    def distance(self, moment: datetime) -> timedelta:
        """How far ``moment`` lies outside [first_at, last_at] (zero inside)."""
        if moment < self.first_at:
            return self.first_at - moment
        return max(moment - self.last_at, timedelta(0))


@dataclass(frozen=True)
class GroupingKeys:
    """What an open incident offers for matching new alerts; the store may cache it per incident."""

    incident_id: str
    copy_bursts: frozenset[tuple[str, str]]
    lost_devices: frozenset[str]
    destinations: tuple[Sighting, ...]
    device_signals: tuple[Sighting, ...]


@dataclass(frozen=True)
class Placement:
    """Where a new alert goes: an existing incident (with the rule that matched) or a new one."""

    incident_id: str | None
    rule: GroupingRule | None

    @property
    def opens_new(self) -> bool:
        """True when the alert should open a new incident."""
        return self.incident_id is None


def _sightings(alerts: Iterable[Alert], kinds: frozenset[AlertKind], use_destination: bool) -> tuple[Sighting, ...]:
    spans: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    for a in alerts:
        if a.kind not in kinds:
            continue
        key = (a.device_id, a.destination_key if use_destination else str(a.kind))
        first, last = spans.get(key, (a.occurred_at, a.occurred_at))
        spans[key] = (min(first, a.occurred_at), max(last, a.occurred_at))
    return tuple(Sighting(d, k, f, last) for (d, k), (f, last) in sorted(spans.items()))


def grouping_keys(incident: Incident) -> GroupingKeys:
    """The grouping keys of ``incident``, computed from its alerts."""
    alerts = incident.alerts
    return GroupingKeys(
        incident_id=incident.incident_id,
        copy_bursts=frozenset((a.device_id, a.copy_burst_id) for a in alerts if a.copy_burst_id),
        lost_devices=frozenset(a.device_id for a in alerts if a.kind in _LOSS_KINDS),
        destinations=_sightings(alerts, _DESTINATION_KINDS, use_destination=True),
        device_signals=_sightings(alerts, _DEVICE_SIGNAL_KINDS, use_destination=False),
    )


def _match(alert: Alert, keys: GroupingKeys, policy: GroupingPolicy) -> tuple[GroupingRule, timedelta] | None:
    if alert.copy_burst_id and (alert.device_id, alert.copy_burst_id) in keys.copy_bursts:
        return GroupingRule.COPY_BURST, timedelta(0)
    if alert.kind in _LOSS_KINDS and alert.device_id in keys.lost_devices:
        return GroupingRule.LOST_DEVICE, timedelta(0)
    if alert.kind in _DESTINATION_KINDS:
        rule, sightings, window = GroupingRule.SAME_DESTINATION, keys.destinations, policy.destination_window
        key = alert.destination_key
    elif alert.kind in _DEVICE_SIGNAL_KINDS:
        rule, sightings, window = GroupingRule.SAME_DEVICE_SIGNAL, keys.device_signals, policy.device_signal_window
        key = str(alert.kind)
    else:
        return None
    distances = [s.distance(alert.occurred_at) for s in sightings if s.device_id == alert.device_id and s.key == key]
    near = [d for d in distances if d <= window]
    return (rule, min(near)) if near else None


def place_alert(
    alert: Alert, candidates: Iterable[GroupingKeys], policy: GroupingPolicy = DEFAULT_GROUPING_POLICY
) -> Placement:
    """Decide whether ``alert`` joins one of the open incidents in ``candidates`` or opens a new one."""
    best: tuple[GroupingRule, timedelta, str] | None = None
    for keys in candidates:
        found = _match(alert, keys, policy)
        if found is not None and (best is None or (*found, keys.incident_id) < best):
            best = (*found, keys.incident_id)
    return Placement(None, None) if best is None else Placement(best[2], best[0])


def attach_alert(
    incident: Incident,
    alert: Alert,
    now: datetime,
    actor: str = SYSTEM_ACTOR,
    rule: GroupingRule | None = None,
) -> Transition:
    """Add ``alert`` to an open incident (state unchanged); records which rule matched, if any."""
    current = require_utc(now, "now")
    if not incident.is_open:
        raise GroupingError(f"incident {incident.incident_id} is {incident.state}: reopen it to add evidence")
    if incident.alert(alert.alert_id) is not None:
        raise GroupingError(f"alert {alert.alert_id} is already in incident {incident.incident_id}")
    updated = replace(incident, alerts=(*incident.alerts, alert))
    details = {"alert_id": alert.alert_id, "alert_kind": str(alert.kind), "rule": rule.name if rule else None}
    audit = AuditRecord(
        incident.incident_id, IncidentEvent.ATTACH_ALERT, current, actor,
        f"grouped by {rule.name.lower()}" if rule else "attached by hand", incident.state, incident.state, details,
    )  # fmt: skip
    return Transition(updated, audit)


def with_check_in_network(incident: Incident, alert: Alert) -> Incident | None:
    """The incident with the network class of a repeated check-in filled in, or None if nothing changes.

    A lost laptop's first check-in of the day may reach the workflow as one of its events
    (which carries no address) before its Heartbeat (which does): both make the same alert,
    so the second adds where the laptop called from to the alert the first placed.
    """
    held = incident.alert(alert.alert_id)
    if held is None or alert.kind is not AlertKind.LOST_DEVICE_CHECK_IN or not alert.network or held.network:
        return None
    alerts = tuple(replace(a, network=alert.network) if a.alert_id == alert.alert_id else a for a in incident.alerts)
    return replace(incident, alerts=alerts)


@dataclass(frozen=True)
class SplitResult:
    """The incident without the alert, and the new incident holding it; each with its audit record."""

    remaining: Transition
    split_off: Transition


def split_alert(
    incident: Incident, alert_id: str, new_incident_id: str, now: datetime, actor: str, reason: str
) -> SplitResult:
    """Move one alert out of an open incident into a new suspected incident of its own."""
    current = require_utc(now, "now")
    alert = incident.alert(alert_id)
    if alert is None:
        raise GroupingError(f"alert {alert_id} is not in incident {incident.incident_id}")
    if not incident.is_open:
        raise GroupingError(f"incident {incident.incident_id} is {incident.state}: reopen it first")
    if len(incident.alerts) == 1:
        raise GroupingError("an incident's only alert cannot be split off")
    if not reason.strip():
        raise GroupingError("say why the alert does not belong to this incident")
    why = reason.strip()
    remaining = replace(incident, alerts=tuple(a for a in incident.alerts if a.alert_id != alert_id))
    new = Incident(incident_id=new_incident_id, opened_at=current, state=IncidentState.SUSPECTED, alerts=(alert,))
    return SplitResult(
        Transition(
            remaining,
            AuditRecord(
                incident.incident_id, IncidentEvent.SPLIT_ALERT, current, actor, why, incident.state, incident.state,
                {"alert_id": alert_id, "split_to": new_incident_id},
            ),
        ),
        Transition(
            new,
            AuditRecord(
                new_incident_id, IncidentEvent.SPLIT_ALERT, current, actor, why, None, IncidentState.SUSPECTED,
                {"alert_id": alert_id, "split_from": incident.incident_id},
            ),
        ),
    )  # fmt: skip
