"""The Art. 33(5) breach register: one row per incident, reported or not.

Each row gives the facts, the effects, the actions taken, the decision and the reasons for
every decision, and the dates (aware, deadline, ICO notified). ``write_register_csv``
writes the rows to a text stream, neutralising cells a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from typing import TextIO

from collector.domain.clocks import deadline, is_late
from collector.domain.dashboard import TYPE_LABELS, incident_figures
from collector.domain.incident import (
    SUBJECTS_GROUND_TEXT,
    Incident,
    IncidentEvent,
    IncidentState,
    NotificationRecord,
    SubjectsGround,
)
from collector.domain.incident_facts import describe_assessment, describe_what_happened
from collector.domain.instants import iso_utc

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RegisterRow:
    """One incident in the breach register; every value is text, ready for a spreadsheet."""

    incident_id: str
    state: str
    opened_at: str
    alert_kinds: str
    incident_types: str
    devices: str
    facts: str
    effects: str
    people_affected: str
    data_categories: str
    actions: str
    tasks_done: str
    root_cause: str
    lessons_learned: str
    decision: str
    decision_reasons: str
    art34_against_grid: str
    first_signal_at: str
    aware_at: str
    hours_signal_to_aware: str
    deadline: str
    ico_notified_at: str
    hours_aware_to_report: str
    ico_case_reference: str
    ico_outcome: str
    reported_late: str
    late_reasons: str
    people_told: str
    others_told: str
    reminder: str
    closed_at: str


REGISTER_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RegisterRow))


def _when(moment: datetime | None) -> str:
    return "" if moment is None else iso_utc(moment)


def _hours(hours: float | None) -> str:
    return "" if hours is None else f"{hours:.1f}"


def _outcome(incident: Incident) -> str:
    if incident.state is IncidentState.DISMISSED:
        if incident.near_miss:
            return "Near miss: a security incident; no personal data was compromised"
        return "Dismissed: not a personal data breach"
    decision = incident.reportability
    if decision is None:
        return "Decision pending"
    if not decision.reportable:
        outcome = "Not reportable: recorded internally"
    else:
        outcome = "Reportable" + ("; ICO notified" if incident.initial_submission else "; ICO not yet notified")
    if not decision.agrees_with_grid:
        outcome += " (differs from the risk grid)"
    return outcome


def _people_told(incident: Incident) -> str:
    subjects = incident.subjects
    if subjects is None:
        return ""
    if subjects.informed:
        return f"Told ({iso_utc(subjects.at)}): {subjects.reason}"
    ground = SUBJECTS_GROUND_TEXT[subjects.ground] if subjects.ground else "no ground given"
    return f"Not told: {ground}. {subjects.reason}"


def _art34_against_grid(incident: Incident) -> str:
    """Whether the Art. 34 decision goes against the grid's high-risk judgement, in words ("" if not)."""
    subjects, assessment = incident.subjects, incident.assessment
    if subjects is None or assessment is None:
        return ""
    if not subjects.informed and subjects.ground is SubjectsGround.NOT_HIGH_RISK and assessment.high_risk:
        return "yes: the grid says high risk, but the people affected were not told (not high risk)"
    return ""


def _told(n: NotificationRecord) -> str:
    return f"{n.body} {iso_utc(n.told_at)}" + (f" (ref. {n.reference})" if n.reference else "")


def _reminder(incident: Incident) -> str:
    """Art. 34: once the ICO is told of a high-risk breach, the people affected must be told without undue delay."""
    assessment, initial = incident.assessment, incident.initial_submission
    if initial is None or assessment is None or not assessment.high_risk or incident.subjects is not None:
        return ""
    told = len(incident.families_told)
    progress = f" ({told} famil{'y' if told == 1 else 'ies'} told so far)" if told else ""
    when = iso_utc(initial.submitted_at)
    return f"Tell the people affected without undue delay (Art. 34): the ICO was notified {when}{progress}"


def register_row(
    incident: Incident, *, people_affected: int | None = None, data_categories: Iterable[str] = ()
) -> RegisterRow:
    """The register row for one incident.

    ``people_affected`` and ``data_categories`` are the answers on the incident's ICO draft
    (a person's count of people; the form's category labels), passed in by the caller.
    """
    initial = incident.initial_submission
    reasons = [
        f"{iso_utc(d.at)} {d.event} by {d.by} ({d.from_state} -> {d.to_state}): {d.reason}" for d in incident.decisions
    ]
    closed = [d.at for d in incident.decisions if d.event is IncidentEvent.CLOSE]
    figures = incident_figures(incident)  # the same figures the dashboard counts
    return RegisterRow(
        incident_id=incident.incident_id,
        state=str(incident.state),
        opened_at=iso_utc(incident.opened_at),
        alert_kinds=", ".join(sorted({str(a.kind) for a in incident.alerts})),
        incident_types="; ".join(TYPE_LABELS[t] for t in figures.types),
        devices=", ".join(sorted({a.device_id for a in incident.alerts})),
        facts=describe_what_happened(incident),
        effects=describe_assessment(incident.assessment, include_note=True),
        people_affected="not yet known" if people_affected is None else str(people_affected),
        data_categories="; ".join(data_categories),
        actions="\n".join(f"{iso_utc(a.at)} {a.by}: {a.text}" for a in incident.actions),
        tasks_done="\n".join(f"{iso_utc(t.at)} {t.by}: {t.task}" for t in incident.tasks_done),
        root_cause=incident.closure.root_cause if incident.closure else "",
        lessons_learned=incident.closure.lessons_learned if incident.closure else "",
        decision=_outcome(incident),
        decision_reasons="\n".join(reasons),
        art34_against_grid=_art34_against_grid(incident),
        first_signal_at=iso_utc(figures.first_signal_at),
        aware_at=_when(incident.aware_at),
        hours_signal_to_aware=_hours(figures.hours_signal_to_aware),
        deadline=_when(deadline(incident)),
        ico_notified_at=_when(initial.submitted_at if initial else None),
        hours_aware_to_report=_hours(figures.hours_aware_to_report),
        ico_case_reference=incident.ico_case_reference,
        ico_outcome=incident.ico_outcome.outcome if incident.ico_outcome else "",
        reported_late=("yes" if is_late(incident, initial.submitted_at) else "no") if initial else "",
        late_reasons=initial.late_reasons if initial else "",
        people_told=_people_told(incident),
        others_told="; ".join(_told(n) for n in incident.notifications),
        reminder=_reminder(incident),
        closed_at=_when(closed[-1]) if closed and incident.state is IncidentState.CLOSED else "",
    )


def register_rows(
    incidents: Iterable[Incident], scope: Mapping[str, tuple[int | None, tuple[str, ...]]] | None = None
) -> list[RegisterRow]:
    """Register rows for every incident given (reported or not), oldest first.

    ``scope`` maps an incident id to (people affected, data category labels) from its ICO draft.
    """
    ordered = sorted(incidents, key=lambda i: (i.opened_at, i.incident_id))
    facts = scope or {}
    rows = []
    for i in ordered:
        people, categories = facts.get(i.incident_id, (None, ()))
        rows.append(register_row(i, people_affected=people, data_categories=categories))
    return rows


def neutralise_cell(text: str) -> str:
    """Prefix a quote to text a spreadsheet would treat as a formula (= + - @, tab, CR)."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def write_register_csv(rows: Iterable[RegisterRow], stream: TextIO) -> None:
    """Write a header and ``rows`` as CSV to ``stream`` (e.g. an ``io.StringIO``)."""
    writer = csv.writer(stream)
    writer.writerow(REGISTER_COLUMNS)
    for row in rows:
        writer.writerow([neutralise_cell(cell) for cell in astuple(row)])
