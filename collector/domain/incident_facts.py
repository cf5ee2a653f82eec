"""Plain-English facts about an incident that carry no personal data.

Used by the ICO report draft and the breach register. Built only from structured alert
fields (kinds, counts, destinations, markings, identifier kinds, times); never from file
names, volume labels, device names, reporters or any free text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from collector.domain.alerts import Alert, AlertKind
from collector.domain.clocks import format_london
from collector.domain.event_facts import DestinationClass
from collector.domain.incident import Incident
from collector.domain.risk import RiskAssessment

IDENTIFIER_NAMES: Mapping[str, str] = {
    "nhs_number": "NHS number",
    "ni_number": "National Insurance number",
    "upn": "Unique Pupil Number",
    "case_reference": "case reference",
}

_DESTINATIONS: Mapping[DestinationClass, str] = {
    DestinationClass.REMOVABLE_VOLUME: "a removable volume",
    DestinationClass.PERSONAL_CLOUD: "a personal cloud storage folder",
    DestinationClass.PERSONAL_FOLDER: "a personal folder on the laptop",
    DestinationClass.UNSPECIFIED: "an unknown destination",
}
_EGRESS = (AlertKind.CASE_FILE_EGRESS, AlertKind.CASE_FILES_FOUND)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def distinct_files(alerts: tuple[Alert, ...]) -> int:
    """How many distinct case files the egress alerts name (by keyed content hash where known)."""
    egress = [a for a in alerts if a.kind in _EGRESS]
    hashes = {h for a in egress for h in a.file_hashes}
    unhashed = sum(1 for a in egress for f in a.files if not f.sha256_hmac)
    return len(hashes) + unhashed


def identifier_totals(alerts: tuple[Alert, ...]) -> dict[str, int]:
    """Identifier counts summed over all alerts, by kind."""
    totals: dict[str, int] = {}
    for a in alerts:
        for name, count in a.identifier_counts.items():
            totals[name] = totals.get(name, 0) + count
    return dict(sorted(totals.items()))


def first_occurred_at(incident: Incident) -> datetime:
    """The earliest time any of the incident's alerts says something happened."""
    return min(a.occurred_at for a in incident.alerts)


def first_received_at(incident: Incident) -> datetime:
    """When the collector first learned of anything in the incident."""
    return min(a.received_at for a in incident.alerts)


def describe_what_happened(incident: Incident) -> str:
    """A paragraph on what happened, built from counts and categories only."""
    alerts = incident.alerts
    devices = len({a.device_id for a in alerts})
    parts: list[str] = []
    egress = [a for a in alerts if a.kind is AlertKind.CASE_FILE_EGRESS]
    if egress:
        where = sorted({_destination(a) for a in egress})
        files = distinct_files(tuple(egress))
        parts.append(f"{_plural(files, 'case file')} copied to {' and '.join(where)}.")
    found = [a for a in alerts if a.kind is AlertKind.CASE_FILES_FOUND]
    if found:
        files = distinct_files(tuple(found))
        incomplete = (
            " (the scan stopped at its limit; there may be more)" if any(a.scan_truncated for a in found) else ""
        )
        parts.append(f"{_plural(files, 'case file')} found on a removable volume connected to a laptop{incomplete}.")
    for a in alerts:
        if a.kind is AlertKind.LOST_DEVICE and a.lost_report is not None:
            locked = {True: "locked", False: "not locked", None: "locked or not (not known)"}[a.lost_report.was_locked]
            when = f" at about {format_london(a.lost_report.lost_at)}" if a.lost_report.lost_at else ""
            parts.append(f"A staff laptop was reported lost or stolen{when}; the reporter says it was {locked}.")
        elif a.kind is AlertKind.DEVICE_SILENT and a.silent_since is not None:
            parts.append(f"A staff laptop has not been heard from since {format_london(a.silent_since)}.")
        elif a.kind is AlertKind.LOST_DEVICE_CHECK_IN and a.locked_by:
            parts.append(
                f"On Caseguard's instruction the laptop reported lost locked every session at "
                f"{format_london(a.occurred_at)} ({a.locked_by}); it locks again at every sign-in until IT "
                "records it found."
            )
        elif a.kind is AlertKind.LOST_DEVICE_CHECK_IN:
            network = f" from {a.network}" if a.network else ""
            parts.append(
                f"The laptop reported lost connected to Caseguard again at {format_london(a.occurred_at)}{network}; "
                "Caseguard told it to lock every session."
            )
    locks = sum(1 for a in alerts if a.kind is AlertKind.LOCK_FAILED)
    if locks:
        parts.append(f"{_plural(locks, 'failure')} to lock an idle, unattended session.")
    missing = sum(len(a.missing_seqs) for a in alerts if a.missing_seqs is not None)
    if missing:
        parts.append(f"{_plural(missing, 'monitoring event')} from a laptop never arrived.")
    totals = identifier_totals(alerts)
    if totals:
        listed = ", ".join(_plural(n, IDENTIFIER_NAMES.get(k, k.replace("_", " "))) for k, n in totals.items())
        parts.append(f"Personal identifiers found in the files: {listed}.")
    markings = sorted({m for a in alerts for m in a.markings})
    if markings:
        parts.append(f"Protective markings on the files: {', '.join(markings)}.")
    start, end = first_occurred_at(incident), max(a.occurred_at for a in alerts)
    span = format_london(start) if start == end else f"between {format_london(start)} and {format_london(end)}"
    parts.append(f"{_plural(devices, 'device')} involved; {span}.")
    return " ".join(parts)


def _destination(alert: Alert) -> str:
    base = _DESTINATIONS[alert.destination_class]
    return f"{base} ({alert.destination_kind})" if alert.destination_kind else base


def describe_how_discovered(incident: Incident) -> str:
    """How the incident came to light."""
    kinds = {a.kind for a in incident.alerts}
    ways: list[str] = []
    if kinds & {AlertKind.CASE_FILE_EGRESS, AlertKind.CASE_FILES_FOUND, AlertKind.LOCK_FAILED}:
        ways.append("detected automatically by the Caseguard endpoint agent on the laptop")
    if AlertKind.LOST_DEVICE in kinds:
        ways.append("reported by a member of staff")
    if kinds & {AlertKind.DEVICE_SILENT, AlertKind.SEQUENCE_GAP}:
        ways.append("noticed by Caseguard's collector when the laptop stopped reporting as expected")
    if AlertKind.LOST_DEVICE_CHECK_IN in kinds:
        ways.append("noticed by Caseguard's collector when the laptop reported lost connected again")
    text = "; ".join(ways)
    return text[:1].upper() + text[1:] + "."


def describe_how_it_happened(incident: Incident) -> str:
    """A neutral one-line account of the mechanism (no blame, no names)."""
    kinds = {a.kind for a in incident.alerts}
    lines: list[str] = []
    if kinds & set(_EGRESS):
        lines.append(
            "Case files were copied from a managed staff laptop to storage outside the organisation's control."
        )
    if AlertKind.LOST_DEVICE in kinds:
        lines.append("A managed staff laptop was lost or stolen.")
    if AlertKind.LOCK_FAILED in kinds:
        lines.append("An idle laptop could not be locked automatically.")
    return " ".join(lines)


def describe_assessment(assessment: RiskAssessment | None, *, include_note: bool = False) -> str:
    """The risk grid result and its generated rationale (plus the assessor's own note if asked)."""
    if assessment is None:
        return "Not yet assessed."
    head = (
        f"Likelihood {int(assessment.likelihood)} ({assessment.likelihood.name.replace('_', ' ').lower()}), "
        f"severity {int(assessment.severity)} ({assessment.severity.name.replace('_', ' ').lower()}): "
        f"{assessment.recommendation}."
    )
    note = (f"Assessor's note: {assessment.note}",) if include_note and assessment.note else ()
    return " ".join((head, *assessment.rationale, *note))
