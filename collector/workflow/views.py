"""Incidents as JSON-ready dicts and short text, for the CLI (and later the console).

Times are given twice: ISO 8601 UTC for machines and Europe/London for people. These views
are for IG officers, who may see what the agents reported (alert details in ``show``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from collector.domain.clocks import ClockPolicy, clock_status, format_london
from collector.domain.incident_facts import describe_what_happened
from collector.domain.incident_record import IncidentRecord
from collector.domain.instants import iso_utc
from collector.domain.lifecycle import allowed_events
from collector.domain.obligations import DEFAULT_OBLIGATION_POLICY, ObligationPolicy, obligations
from collector.domain.risk import RiskAssessment
from collector.domain.snapshots import snapshot
from collector.workflow.grades import current_grade


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else iso_utc(moment)


def _london(moment: datetime | None) -> str | None:
    return None if moment is None else format_london(moment)


def assessment_view(assessment: RiskAssessment | None) -> dict[str, Any] | None:
    """An assessment's scores, verdict and reasons."""
    if assessment is None:
        return None
    return {
        "likelihood": int(assessment.likelihood),
        "severity": int(assessment.severity),
        "score": assessment.score,
        "involves_vulnerable": assessment.involves_vulnerable,
        "ico_reportable": assessment.ico_reportable,
        "high_risk": assessment.high_risk,
        "recommendation": str(assessment.recommendation),
        "rationale": list(assessment.rationale),
        "note": assessment.note,
        "draft": assessment.draft,
        "assessed_at": iso_utc(assessment.assessed_at),
        "assessed_by": assessment.assessed_by,
    }


def obligations_view(
    record: IncidentRecord, now: datetime, policy: ObligationPolicy = DEFAULT_OBLIGATION_POLICY
) -> list[dict[str, Any]]:
    """Each body to tell: state, due time (ISO and UK), overdue, and what was recorded."""
    return [
        {
            "key": o.key,
            "title": o.title,
            "reference": o.reference,
            "state": str(o.state),
            "due": _when(o.due),
            "due_london": _london(o.due),
            "overdue": o.overdue(now),
            "done_at": _when(o.done_at),
            "recorded_reference": o.recorded_reference,
            "detail": o.detail,
        }
        for o in obligations(record.incident, policy, draft=record.draft)
    ]


def incident_summary(
    record: IncidentRecord,
    now: datetime,
    policy: ClockPolicy,
    obligation_policy: ObligationPolicy = DEFAULT_OBLIGATION_POLICY,
) -> dict[str, Any]:
    """One incident in brief: state, devices, clock, risk grade, obligations and the steps allowed next."""
    incident = record.incident
    status = clock_status(incident, policy)
    remaining = status.remaining(now)
    confirmed = incident.assessment is not None
    return {
        "incident_id": incident.incident_id,
        "state": str(incident.state),
        "opened_at": iso_utc(incident.opened_at),
        "devices": sorted({a.device_id for a in incident.alerts}),
        "alert_kinds": sorted({str(a.kind) for a in incident.alerts}),
        "alerts": len(incident.alerts),
        "aware_at": _when(incident.aware_at),
        "aware_at_london": _london(incident.aware_at),
        "clock": {
            "kind": None if status.kind is None else str(status.kind),
            "started_at": _when(status.started_at),
            "deadline": _when(status.deadline),
            "deadline_london": _london(status.deadline),
            "stopped_at": _when(status.stopped_at),
            "running": status.running,
            "hours_left": None if remaining is None else round(remaining.total_seconds() / 3600, 2),
        },
        "risk_grade": str(current_grade(record)),
        "risk_source": "confirmed" if confirmed else ("draft" if record.draft else None),
        "next_steps": [str(e) for e in allowed_events(incident.state)],
        "obligations": obligations_view(record, now, obligation_policy),
    }


def incident_detail(
    record: IncidentRecord,
    now: datetime,
    policy: ClockPolicy,
    obligation_policy: ObligationPolicy = DEFAULT_OBLIGATION_POLICY,
) -> dict[str, Any]:
    """Everything about one incident: the summary, decisions, assessments and every alert in full."""
    incident = record.incident
    view = incident_summary(record, now, policy, obligation_policy)
    view.update(
        {
            "awareness": snapshot(incident.awareness),
            "assessment": assessment_view(incident.assessment),
            "draft_assessment": assessment_view(record.draft),
            "reportability": snapshot(incident.reportability),
            "ico_submissions": snapshot(incident.ico_submissions),
            "subjects": snapshot(incident.subjects),
            "actions": snapshot(incident.actions),
            "decisions": snapshot(incident.decisions),
            "reopen_count": incident.reopen_count,
            "awareness_corrections": snapshot(incident.awareness_corrections),
            "notifications": snapshot(incident.notifications),
            "families_told": snapshot(incident.families_told),
            "tasks_done": snapshot(incident.tasks_done),
            "ico_outcome": snapshot(incident.ico_outcome),
            "closure": snapshot(incident.closure),
            "near_miss": incident.near_miss,
            "what_happened": describe_what_happened(incident),
            "alert_details": [snapshot(a) for a in incident.alerts],
        }
    )
    return view


def summary_line(view: dict[str, Any]) -> str:
    """``incident_summary`` as one line of text."""
    clock = view["clock"]
    if clock["kind"] is None:
        deadline = "no clock"
    else:
        stopped = " (stopped)" if clock["stopped_at"] else ""
        deadline = f"{clock['kind']} deadline {clock['deadline_london']}{stopped}"
    return (
        f"{view['incident_id']:14} {view['state']:17} risk={view['risk_grade']:10} {deadline}; "
        f"devices={','.join(view['devices'])} alerts={','.join(view['alert_kinds'])}"
    )


def detail_text(view: dict[str, Any]) -> str:
    """``incident_detail`` as readable text."""
    lines = [summary_line(view), f"opened {view['opened_at']}; next steps: {', '.join(view['next_steps'])}"]
    if view.get("what_happened"):
        lines.append(f"what happened: {view['what_happened']}")
    if view["aware_at"]:
        lines.append(f"aware at {view['aware_at_london']}")
    for title, key in (("assessment", "assessment"), ("drafted assessment", "draft_assessment")):
        a = view[key]
        if a:
            lines.append(f"{title}: likelihood {a['likelihood']} x severity {a['severity']}: {a['recommendation']}")
            lines += [f"  - {r}" for r in a["rationale"]]
            if a["note"]:
                lines.append(f"  note: {a['note']}")
    for alert in view["alert_details"]:
        lines.append(f"alert {alert['alert_id']} {alert['kind']} on {alert['device_id']} at {alert['occurred_at']}")
    for d in view["decisions"]:
        lines.append(f"{d['at']} {d['event']} by {d['by']}: {d['reason']}")
    return "\n".join(lines)
