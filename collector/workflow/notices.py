"""What the IG team is told, as JSON values with no personal data.

A notice names the incident, its state, risk grade and deadline, the device names and the
destination classes; never file names, volume labels, reporters or any free text from
events or officers. The same payload feeds the email and the webhook.
"""

from __future__ import annotations

import enum
from datetime import datetime

from collector.domain.canonical_json import JsonValue
from collector.domain.clocks import ClockPolicy, clock_status, format_london
from collector.domain.event_facts import DestinationClass
from collector.domain.incident_record import IncidentRecord
from collector.domain.instants import iso_utc
from collector.workflow.grades import current_grade


class NoticeKind(enum.StrEnum):
    """Why the IG team is being told something."""

    NEW_INCIDENT = "new_incident"
    RISK_GRADE_CHANGED = "risk_grade_changed"
    DEADLINE_WARNING = "deadline_warning"
    LOST_DEVICE_CHECK_IN = "lost_device_check_in"


_HEADLINES: dict[NoticeKind, str] = {
    NoticeKind.NEW_INCIDENT: "A suspected personal data breach was opened.",
    NoticeKind.RISK_GRADE_CHANGED: "The incident's risk grade changed.",
    NoticeKind.DEADLINE_WARNING: "An ICO deadline is approaching.",
    NoticeKind.LOST_DEVICE_CHECK_IN: "A device reported lost has connected to Caseguard again.",
}


def _texts(values: set[str]) -> list[JsonValue]:
    return list(sorted(values))


def notice_payload(
    kind: NoticeKind,
    record: IncidentRecord,
    now: datetime,
    clock_policy: ClockPolicy,
    *,
    message: str = "",
    previous_grade: str | None = None,
) -> dict[str, JsonValue]:
    """The notice for ``record``; ``message`` replaces the standard headline when given."""
    incident = record.incident
    status = clock_status(incident, clock_policy)
    destinations = {
        str(a.destination_class) for a in incident.alerts if a.destination_class is not DestinationClass.UNSPECIFIED
    }
    payload: dict[str, JsonValue] = {
        "event": str(kind),
        "message": message or _HEADLINES[kind],
        "incident_id": incident.incident_id,
        "state": str(incident.state),
        "risk_grade": str(current_grade(record)),
        "clock": None if status.kind is None else str(status.kind),
        "deadline": None if status.deadline is None else iso_utc(status.deadline),
        "deadline_london": None if status.deadline is None else format_london(status.deadline),
        "clock_stopped": status.stopped_at is not None,
        "devices": _texts({a.device_id for a in incident.alerts}),
        "destination_classes": _texts(destinations),
        "alert_kinds": _texts({str(a.kind) for a in incident.alerts}),
        "at": iso_utc(now),
    }
    if previous_grade is not None:
        payload["previous_risk_grade"] = previous_grade
    return payload
