"""What the pages show, worked out from the workflow's views and the domain values: no decisions here.

Times are shown in Europe/London (``format_london``); countdowns in hours and minutes.
The inbox order is by seriousness (``inbox_order``): first any incident that is not graded
low whose clock is overdue or has under 12 hours left; then by risk grade (high,
reportable, unassessed, low), each grade by time left on its clock (clocks running first),
then age. A reportable incident with no clock yet is never buried under a low one that has
a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collector.domain.alerts import Alert, AlertKind
from collector.domain.clocks import LONDON, format_london
from collector.domain.event_facts import DestinationClass, DevicePosture, EncryptionState
from collector.domain.incident import Incident
from collector.domain.incident_record import IncidentRecord
from collector.domain.risk import GridCell, RiskPolicy, grid
from collector.store.base import Device
from collector.store.console_base import Assignment, ConsoleStore
from collector.wire.event_codec import POSTURE_KINDS, EventDecodeError, device_posture
from collector.workflow.times import from_us, in_range_us, to_us

ALERT_KIND_TEXT: Mapping[str, str] = {
    AlertKind.CASE_FILE_EGRESS: "Case file copied out",
    AlertKind.CASE_FILES_FOUND: "Case files found on a volume",
    AlertKind.LOCK_FAILED: "Screen lock failed",
    AlertKind.LOST_DEVICE: "Device reported lost",
    AlertKind.DEVICE_SILENT: "Device silent",
    AlertKind.SEQUENCE_GAP: "Events missing",
    AlertKind.LOST_DEVICE_CHECK_IN: "Lost device checked in",
    AlertKind.UNINSPECTABLE_FILE: "File that could not be judged copied out",
    AlertKind.UNINSPECTABLE_DESTINATION: "Phone or camera attached (cannot be inspected)",
}
DESTINATION_TEXT: Mapping[str, str] = {
    DestinationClass.REMOVABLE_VOLUME: "Removable volume",
    DestinationClass.PERSONAL_CLOUD: "Personal cloud",
    DestinationClass.PERSONAL_FOLDER: "Personal folder",
    DestinationClass.PORTABLE_DEVICE: "Phone or camera (MTP/PTP)",
    DestinationClass.UNSPECIFIED: "Not stated",
}
ENCRYPTION_TEXT: Mapping[str, str] = {
    EncryptionState.ENCRYPTED: "Encrypted",
    EncryptionState.NOT_ENCRYPTED: "Not encrypted",
    EncryptionState.PARTIAL: "Partly encrypted",
    EncryptionState.UNSPECIFIED: "Not known",
}
# How the classifier judged a file a case file, in words (its reason codes stay off the pages).
REASON_TEXT: Mapping[str, str] = {
    "exact": "an exact copy of a known case file",
    "fingerprint": "most of its text matches a known case file",
    "label": "it carries the organisation's sensitivity label",
    "marking": "it carries a protective marking",
    "content": "its content looks like a case file (names, identifiers)",
}
GRADE_ORDER: Mapping[str, int] = {"high": 0, "reportable": 1, "unassessed": 2, "low": 3}
URGENT_HOURS = 12.0
STATE_TEXT: Mapping[str, str] = {
    "suspected": "Suspected",
    "dismissed": "Dismissed",
    "confirmed": "Confirmed",
    "assessed": "Assessed",
    "not_reportable": "Not reportable",
    "reportable": "Reportable",
    "ico_notified": "ICO notified",
    "subjects_informed": "People told",
    "subjects_exempt": "People not told",
    "closed": "Closed",
}


def london(moment: datetime | None) -> str:
    """A moment for people (UK time), or a dash."""
    return "—" if moment is None else format_london(moment)


def london_us(us: int | None) -> str:
    """Microseconds since the epoch for people (UK time), or "never"."""
    if us is None:
        return "never"
    return format_london(from_us(us)) if in_range_us(us) else "not a valid time"


def local_input(moment: datetime | None) -> str:
    """A moment as a date-and-time input value in UK time, ISO order (``2026-12-03 09:30``).

    Plain text in ISO order rather than the browser's ``datetime-local`` picker, whose
    display follows the browser's locale (3 December shows as 12/03 in a US browser).
    """
    if moment is None:
        return ""
    return moment.astimezone(LONDON).strftime("%Y-%m-%d %H:%M")


def hours_minutes(hours: float) -> str:
    """``31.2`` -> ``31 h 12 min``."""
    minutes = round(abs(hours) * 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


@dataclass(frozen=True)
class Countdown:
    """The clock as a person reads it."""

    kind: str  # "provisional", "statutory" or "" (no clock)
    text: str  # "31 h 12 min left", "overdue by 2 h 03 min", "stopped", "no clock"
    deadline: str  # UK time, or ""
    deadline_iso: str  # UTC, for the page's live countdown, or ""
    urgency: str  # "overdue", "urgent" (< 12 h), "soon" (< 24 h), "running", "stopped", "none"
    hours_left: float | None


def countdown(summary: Mapping[str, Any]) -> Countdown:
    """The countdown of an ``incident_summary`` view."""
    clock = summary["clock"]
    kind = clock["kind"] or ""
    if not kind:
        return Countdown("", "no clock", "", "", "none", None)
    deadline = clock["deadline_london"] or ""
    if not clock["running"]:
        return Countdown(kind, "stopped", deadline, "", "stopped", None)
    left = float(clock["hours_left"])
    if left <= 0:
        return Countdown(kind, f"overdue by {hours_minutes(left)}", deadline, clock["deadline"], "overdue", left)
    urgency = "urgent" if left < 12 else ("soon" if left < 24 else "running")
    return Countdown(kind, f"{hours_minutes(left)} left", deadline, clock["deadline"], urgency, left)


def destination_classes(incident: Incident) -> list[str]:
    """Where the incident's data went, in words (lost devices and lock failures included)."""
    found: dict[str, None] = {}
    for a in incident.alerts:
        if a.kind in (AlertKind.CASE_FILE_EGRESS, AlertKind.CASE_FILES_FOUND):
            found[DESTINATION_TEXT[a.destination_class]] = None
        elif a.kind in (AlertKind.LOST_DEVICE, AlertKind.DEVICE_SILENT, AlertKind.LOST_DEVICE_CHECK_IN):
            found["Lost device"] = None
        else:
            found[ALERT_KIND_TEXT[a.kind]] = None
    return list(found)


@dataclass(frozen=True)
class InboxRow:
    """One incident in the inbox."""

    summary: Mapping[str, Any]
    countdown: Countdown
    destinations: list[str]
    assigned_to: str
    devices: tuple[str, ...] = ()


def inbox_rows(
    summaries: Iterable[tuple[IncidentRecord, Mapping[str, Any]]],
    assignments: Mapping[str, Assignment],
    owners: Mapping[str, list[str]] | None = None,
) -> list[InboxRow]:
    """Inbox rows, most serious first (``inbox_order``); devices named with their owners where known."""
    rows = [
        InboxRow(
            summary,
            countdown(summary),
            destination_classes(record.incident),
            assignments[record.incident_id].user_name if record.incident_id in assignments else "",
            tuple(device_label(d, owners or {}) for d in summary["devices"]),
        )
        for record, summary in summaries
    ]

    return sorted(rows, key=inbox_order)


def inbox_order(row: InboxRow) -> tuple[int, int, int, float, str]:
    """The sort key of an inbox row: pressing deadlines, then seriousness, then time left, then age."""
    grade = GRADE_ORDER.get(str(row.summary["risk_grade"]), 9)
    left = row.countdown.hours_left
    pressing = left is not None and left < URGENT_HOURS and grade != GRADE_ORDER["low"]
    return (
        0 if pressing else 1,
        grade,
        0 if left is not None else 1,
        left if left is not None else 0.0,
        str(row.summary["opened_at"]),
    )


@dataclass(frozen=True)
class PostureView:
    """A device's protection as it stood when the incident began, and how it is now."""

    device: str
    at: str  # when the incident's first alert on it arrived (UK time)
    posture: DevicePosture | None
    encryption: str
    lock: str
    last_seen: str
    lost: bool
    revoked: bool
    owners: list[str]
    unreadable: bool = False


def _lock_text(p: DevicePosture) -> str:
    parts = ["agent enforces the lock" if p.lock_enforced_by_agent else "agent does not enforce the lock"]
    if p.os_lock_timeout_s is not None:
        parts.append(
            "OS never locks" if p.os_lock_timeout_s == 0 else f"OS locks after {p.os_lock_timeout_s // 60} min"
        )
    if p.password_on_wake is not None:
        parts.append("password on wake" if p.password_on_wake else "no password on wake")
    if p.last_lock_at is not None:
        parts.append(f"last locked {format_london(p.last_lock_at)}")
    return "; ".join(parts)


def posture_views(
    incident: Incident, devices: Mapping[str, Device | None], console: ConsoleStore, owners: Mapping[str, list[str]]
) -> list[PostureView]:
    """Each device's posture at the moment its first alert in the incident arrived."""
    first: dict[str, datetime] = {}
    for a in incident.alerts:
        first[a.device_id] = min(first.get(a.device_id, a.received_at), a.received_at)
    views = []
    for name, at in sorted(first.items()):
        posture, unreadable = None, False
        try:
            posture = device_posture(console.posture_events_at(name, POSTURE_KINDS, to_us(at)))
        except EventDecodeError:
            unreadable = True
        device = devices.get(name)
        views.append(
            PostureView(
                device=name,
                at=format_london(at),
                posture=posture,
                encryption=ENCRYPTION_TEXT[posture.encryption] if posture else "Not reported",
                lock=_lock_text(posture) if posture else "Not reported",
                last_seen=london_us(device.last_seen_at_us) if device else "not enrolled",
                lost=device is not None and device.lost_at_us is not None,
                revoked=device is not None and device.revoked_at_us is not None,
                owners=list(owners.get(name, [])),
                unreadable=unreadable,
            )
        )
    return views


def related_incidents(
    record: IncidentRecord, everything: Sequence[IncidentRecord], owners: Mapping[str, list[str]]
) -> list[tuple[IncidentRecord, str]]:
    """Other incidents about the same device, the same owner or the same reporter, with why they are related."""
    incident = record.incident
    devices = {a.device_id for a in incident.alerts}
    people = {o for d in devices for o in owners.get(d, [])}
    reporters = {a.lost_report.reported_by for a in incident.alerts if a.lost_report and a.lost_report.reported_by}
    related = []
    for other in everything:
        if other.incident_id == record.incident_id:
            continue
        their_devices = {a.device_id for a in other.incident.alerts}
        their_reporters = {
            a.lost_report.reported_by for a in other.incident.alerts if a.lost_report and a.lost_report.reported_by
        }
        if devices & their_devices:
            why = "same device: " + ", ".join(sorted(devices & their_devices))
        elif people & {o for d in their_devices for o in owners.get(d, [])}:
            why = "a device of the same person"
        elif reporters & their_reporters:
            why = "reported by the same person"
        else:
            continue
        related.append((other, why))
    return sorted(related, key=lambda pair: pair[0].incident.opened_at, reverse=True)


@dataclass(frozen=True)
class GridCellView:
    """One cell of the likelihood x severity grid as the page draws it."""

    cell: GridCell
    chosen: bool

    @property
    def likelihood(self) -> int:
        """The cell's likelihood score."""
        return self.cell.likelihood

    @property
    def severity(self) -> int:
        """The cell's severity score."""
        return self.cell.severity

    @property
    def band(self) -> str:
        """The CSS class: the DSPT band."""
        return str(self.cell.band)

    @property
    def rule(self) -> str:
        """Which rules coloured and marked this cell, in words (the cell's tooltip and label)."""
        return f"{self.cell.band_rule}. {self.cell.high_risk_rule}."


def risk_grid(policy: RiskPolicy, likelihood: int | None, severity: int | None) -> list[list[GridCellView]]:
    """The 5 x 5 DSPT grid as rows (severity 5 at the top), banded and marked by ``risk.grid_cell``."""
    chosen = (likelihood, severity)
    return [[GridCellView(c, (c.likelihood, c.severity) == chosen) for c in row] for row in grid(policy)]


def why_case_file(alert: Alert) -> str:
    """Why the alert's files were judged case files, and how sure, in plain words ("" when not a file alert)."""
    if not alert.reasons and alert.confidence is None:
        return ""
    parts = [REASON_TEXT.get(r, "another sign") for r in alert.reasons]
    sure = ""
    if alert.confidence is not None:
        sure = f" (confidence {alert.confidence * 100:.0f}%)"
    return ("; ".join(dict.fromkeys(parts)) or "judged a case file") + sure


def device_label(device: str, owners: Mapping[str, list[str]]) -> str:
    """A device as staff know it: its name and, where known, whose it is ("laptop-7 (Sam Jones's)")."""
    who = owners.get(device, [])
    return f"{device} ({', '.join(who)})" if who else device


def alert_destination(alert: Alert) -> str:
    """Where an alert's file went, in words ("" for alerts about no destination)."""
    if alert.kind not in (AlertKind.CASE_FILE_EGRESS, AlertKind.CASE_FILES_FOUND):
        return ""
    parts = [DESTINATION_TEXT[alert.destination_class]]
    if alert.destination_kind:
        parts.append(alert.destination_kind.replace("_", " "))
    if alert.volume is not None:
        facts = [alert.volume.filesystem, alert.volume.bus]
        parts.append(" ".join(f for f in facts if f))
    return " · ".join(p for p in parts if p)
