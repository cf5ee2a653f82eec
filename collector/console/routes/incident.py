"""The incident page: everything needed to decide in under a minute, and the page's one-click steps.

Every step is the workflow's own command (``WorkflowService.commands``), exactly as the
CLI runs it, with the signed-in account as the actor. A step the life cycle refuses
shows the reason above the form it came from, with what was typed still in it.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from starlette.responses import Response

from collector.console.context import Ctx, form_values, page, refuse
from collector.console.presenters import (
    ALERT_KIND_TEXT,
    STATE_TEXT,
    alert_destination,
    countdown,
    device_label,
    local_input,
    london,
    london_us,
    posture_views,
    related_incidents,
    risk_grid,
    why_case_file,
)
from collector.console.roles import Permission, Role
from collector.domain.checklists import TYPE_TEXT, checklist, incident_types
from collector.domain.clocks import deadline
from collector.domain.errors import DomainError
from collector.domain.incident import SUBJECTS_GROUND_TEXT, IncidentState, SubjectsGround
from collector.domain.incident_record import IncidentRecord
from collector.domain.risk import LIKELIHOOD_TEXT, SEVERITY_TEXT
from collector.domain.subject_letter import draft_letter
from collector.store.console_base import ConsoleStoreError, IncidentNote
from collector.workflow.errors import UnknownIncident, WorkflowError
from collector.workflow.moments import moment
from collector.workflow.times import to_us
from collector.workflow.views import incident_detail

ACTION_TEXT = {
    "confirm": "Confirm breach",
    "correct_awareness": "Correct the awareness time",
    "dismiss": "Dismiss",
    "assess": "Assess",
    "decide": "Decide",
    "notify_ico": "Record ICO submission",
    "inform_subjects": "Record telling the people affected",
    "exempt_subjects": "Record not telling them",
    "close": "Close",
    "reopen": "Reopen",
    "decide_reportable": "Decided reportable",
    "decide_not_reportable": "Decided not reportable",
    "confirm_breach": "Confirm breach",
    "record_action": "Record an action taken",
}


OBLIGATION_NAMES = {"dspt": "the DSPT incident report", "police": "the police"}
OBLIGATION_STATE_TEXT = {
    "not_needed": "not needed",
    "to_decide": "to decide",
    "due": "due",
    "in_progress": "in progress",
    "done": "done",
}


def _load(ctx: Ctx) -> IncidentRecord | None:
    return ctx.deps.workflow.store.get_incident(ctx.param("incident_id"))


def show(
    ctx: Ctx, status: int = 200, error: str = "", failed: str = "", values: dict[str, str] | None = None
) -> Response:
    """GET /incidents/{id}."""
    deps = ctx.deps
    record = _load(ctx)
    if record is None:
        return refuse(ctx.request, deps, 404, "There is no incident with that reference.", ctx)
    incident = record.incident
    now = deps.now()
    policy = deps.workflow.policy
    view = incident_detail(record, now, policy.clock, policy.obligations)
    everything = deps.workflow.store.list_incidents()
    owners = deps.console.owners()
    devices = {a.device_id: deps.events.get_device(a.device_id) for a in incident.alerts}
    current = incident.assessment or record.draft
    assignments = deps.console.assignments()
    related = related_incidents(record, everything, owners)
    related_ids = {r.incident_id for r, _ in related}
    mergeable = sorted(
        (r for r in everything if r.incident_id != record.incident_id and r.incident.state is IncidentState.SUSPECTED),
        key=lambda r: (r.incident_id not in related_ids, r.incident_id),
    )
    officers = [u for u in deps.console.list_users() if u.active and u.role == Role.IG_OFFICER]
    clock = view["clock"]
    aware_default = local_input(_parse(clock["started_at"]) if clock["kind"] == "provisional" else None) or local_input(
        now
    )
    audit = [e for e in deps.workflow.store.audit_entries() if e.subject == record.incident_id]
    scores = (int(current.likelihood), int(current.severity)) if current else (None, None)
    grid_rows = risk_grid(policy.risk, *scores)
    return ctx.render(
        "incident.html",
        status=status,
        record=record,
        incident=incident,
        view=view,
        countdown=countdown(view),
        current=current,
        grid=grid_rows,
        chosen_cell=next((c for row in grid_rows for c in row if c.chosen), None),
        likelihood_text={int(k): v for k, v in LIKELIHOOD_TEXT.items()},
        severity_text={int(k): v for k, v in SEVERITY_TEXT.items()},
        risk_policy=policy.risk,
        postures=posture_views(incident, devices, deps.console, owners),
        related=related,
        mergeable=mergeable,
        assignment=assignments.get(record.incident_id),
        officers=officers,
        notes=deps.console.notes(record.incident_id),
        steps=set(view["next_steps"]),
        audit=audit[-50:],
        aware_default=aware_default,
        aware_current=local_input(incident.aware_at),
        grounds=[(str(g), SUBJECTS_GROUND_TEXT[g]) for g in SubjectsGround],
        has_initial=incident.initial_submission is not None,
        overdue=clock["kind"] == "statutory" and (clock["hours_left"] or 0) < 0,
        error=error,
        failed=failed,
        values=values or {},
        london=london,
        london_us=london_us,
        kind_text=ALERT_KIND_TEXT,
        state_text=STATE_TEXT,
        destination=alert_destination,
        action_text=ACTION_TEXT,
        why=why_case_file,
        obligation_state=OBLIGATION_STATE_TEXT,
        parse_time=_parse,
        tasks=checklist(incident, policy.checklists),
        types=[TYPE_TEXT[t] for t in incident_types(incident)],
        bodies=[("dspt", "DSPT incident report"), ("police", "Police (crime reference)"),
                *((o.key, o.title) for o in policy.obligations.others)],
        device_label=lambda name: device_label(name, owners),
        burst_sizes=Counter(a.copy_burst_id for a in incident.alerts if a.copy_burst_id),
    )


def _parse(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _optional_moment(text: str) -> datetime | None:
    return moment(text) if text.strip() else None


def _step(name: str, run: Callable[[Ctx, str], str]) -> Callable[[Ctx], Response]:
    """A POST handler: run one step, then back to the page with a message, or the page with the error."""

    def handler(ctx: Ctx) -> Response:
        incident_id = ctx.param("incident_id")
        try:
            message = run(ctx, incident_id)
        except UnknownIncident:
            return refuse(ctx.request, ctx.deps, 404, "There is no incident with that reference.", ctx)
        except (DomainError, WorkflowError, ConsoleStoreError, argparse.ArgumentTypeError, ValueError) as exc:
            return show(ctx, 422, _sentence(str(exc)), name, form_values(ctx))
        return ctx.redirect(f"/incidents/{incident_id}#top", text=message)

    handler.__name__ = f"step_{name}"
    return handler


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else "That step was not possible."


def _yes_no(text: str) -> bool | None:
    return {"yes": True, "no": False}.get(text)


def _score(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def _confirm(ctx: Ctx, iid: str) -> str:
    aware = ctx.field("aware_at")
    if not aware.strip():
        raise ValueError("say when the organisation became aware")
    record = ctx.deps.workflow.commands.confirm(
        iid, by=ctx.name, aware_at=moment(aware), reason=ctx.field("reason"), justification=ctx.field("justification")
    )
    return f"Breach confirmed. The ICO deadline is {london(deadline(record.incident))}."


def _correct_awareness(ctx: Ctx, iid: str) -> str:
    aware = ctx.field("aware_at")
    if not aware.strip():
        raise ValueError("give the corrected time the organisation became aware")
    record = ctx.deps.workflow.commands.correct_awareness(
        iid, by=ctx.name, aware_at=moment(aware), reason=ctx.field("reason"), justification=ctx.field("justification")
    )
    return f"Awareness time corrected. The ICO deadline is now {london(deadline(record.incident))}."


def _tell(ctx: Ctx, iid: str) -> str:
    body = ctx.field("body").strip()
    ctx.deps.workflow.commands.record_notification(
        iid, by=ctx.name, body=body, reference=ctx.field("reference"),
        told_at=_optional_moment(ctx.field("told_at")), note=ctx.field("note"),
    )  # fmt: skip
    return f"Recorded telling {OBLIGATION_NAMES.get(body, body)}."


def _task(ctx: Ctx, iid: str) -> str:
    task = ctx.field("task").strip()
    ctx.deps.workflow.commands.complete_task(iid, by=ctx.name, task=task, note=ctx.field("note"))
    return f"Done: {task}."


def _ico_outcome(ctx: Ctx, iid: str) -> str:
    ctx.deps.workflow.commands.record_ico_outcome(iid, by=ctx.name, outcome=ctx.field("outcome"))
    return "The ICO's outcome is recorded."


def _family_told(ctx: Ctx, iid: str) -> str:
    label = ctx.field("label").strip()
    ctx.deps.workflow.commands.record_family_told(
        iid, by=ctx.name, label=label, how=ctx.field("how"), told_at=_optional_moment(ctx.field("told_at"))
    )
    return f"Recorded that {label} was told."


def letter(ctx: Ctx) -> Response:
    """GET /incidents/{id}/letter: the plain-English Art. 34 letter draft, for IG to finish outside Caseguard."""
    record = _load(ctx)
    if record is None:
        return refuse(ctx.request, ctx.deps, 404, "There is no incident with that reference.", ctx)
    return ctx.render("letter.html", record=record, text=draft_letter(record.incident, ctx.deps.org))


def _assess(ctx: Ctx, iid: str) -> str:
    record = ctx.deps.workflow.store.get_incident(iid)
    if record is None:
        raise UnknownIncident(iid)
    draft = record.draft
    likelihood, severity = _score(ctx.field("likelihood")), _score(ctx.field("severity"))
    if draft is not None and likelihood == int(draft.likelihood):
        likelihood = None
    if draft is not None and severity == int(draft.severity):
        severity = None
    done = ctx.deps.workflow.commands.assess(
        iid, by=ctx.name, likelihood=likelihood, severity=severity, vulnerable=_yes_no(ctx.field("vulnerable")),
        note=ctx.field("note"),
    )  # fmt: skip
    a = done.incident.assessment
    return f"Assessment recorded: {a.recommendation}." if a else "Assessment recorded."


def _decide(ctx: Ctx, iid: str) -> str:
    choice = _yes_no(ctx.field("reportable"))
    if choice is None:
        raise ValueError("choose whether the ICO must be told")
    ctx.deps.workflow.commands.decide(iid, by=ctx.name, reportable=choice, reason=ctx.field("reason"))
    return "Decided: report to the ICO." if choice else "Decided: not reportable; recorded internally."


def _notify_ico(ctx: Ctx, iid: str) -> str:
    record = ctx.deps.workflow.store.get_incident(iid)
    follow_up = record is not None and record.incident.initial_submission is not None
    ctx.deps.workflow.commands.notify_ico(
        iid, by=ctx.name, follow_up=follow_up, submitted_at=_optional_moment(ctx.field("submitted_at")),
        ico_case_reference=ctx.field("ico_reference"), late_reasons=ctx.field("late_reasons"), note=ctx.field("note"),
    )  # fmt: skip
    return (
        "Follow-up report to the ICO recorded." if follow_up else "Report to the ICO recorded; the clock has stopped."
    )


def _inform(ctx: Ctx, iid: str) -> str:
    ctx.deps.workflow.commands.inform_subjects(
        iid, by=ctx.name, how=ctx.field("how"), informed_at=_optional_moment(ctx.field("informed_at"))
    )
    return "Recorded that the people affected were told."


def _exempt(ctx: Ctx, iid: str) -> str:
    try:
        ground = SubjectsGround(ctx.field("ground"))
    except ValueError:
        raise ValueError("choose the ground for not telling them") from None
    ctx.deps.workflow.commands.exempt_subjects(iid, by=ctx.name, ground=ground, reason=ctx.field("reason"))
    return "Recorded the decision not to tell the people affected."


def _split(ctx: Ctx, iid: str) -> str:
    new = ctx.deps.workflow.commands.split(iid, ctx.field("alert_id"), by=ctx.name, reason=ctx.field("reason"))
    return f"The alert is now incident {new.incident_id}."


def _merge(ctx: Ctx, iid: str) -> str:
    source = ctx.field("source").strip()
    if not source:
        raise ValueError("choose the incident to bring in")
    ctx.deps.workflow.commands.merge(iid, source, by=ctx.name, reason=ctx.field("reason"))
    return f"{source} was merged into this incident."


def _assign(ctx: Ctx, iid: str) -> str:
    deps = ctx.deps
    if deps.workflow.store.get_incident(iid) is None:
        raise UnknownIncident(iid)
    who = ctx.field("user").strip()
    if who:
        user = deps.console.get_user(who)
        if user is None or not user.active or user.role != Role.IG_OFFICER:
            raise ValueError("incidents can be assigned to an active IG officer only")
        deps.audit.record(ctx.name, "incident.assign", iid, {"assigned_to": who})
        deps.console.assign_incident(iid, who, ctx.name, to_us(deps.now()))
        return "Assigned to you." if who == ctx.name else f"Assigned to {who}."
    deps.audit.record(ctx.name, "incident.unassign", iid, {})
    deps.console.unassign_incident(iid)
    return "Nobody is assigned now."


def _note(ctx: Ctx, iid: str) -> str:
    deps = ctx.deps
    if deps.workflow.store.get_incident(iid) is None:
        raise UnknownIncident(iid)
    text = ctx.field("text").strip()
    if not text:
        raise ValueError("write the note first")
    deps.audit.record(ctx.name, "incident.note", iid, {"characters": len(text)})
    deps.console.add_note(IncidentNote(iid, to_us(deps.now()), ctx.name, text))
    return "Note added."


def _simple(step: str) -> Callable[[Ctx, str], str]:
    def run(ctx: Ctx, iid: str) -> str:
        c = ctx.deps.workflow.commands
        if step == "dismiss":
            near_miss = ctx.field("outcome") == "near_miss"
            c.dismiss(iid, by=ctx.name, reason=ctx.field("reason"), near_miss=near_miss)
            return "Recorded as a near miss." if near_miss else "Dismissed: not a personal data breach."
        if step == "close":
            c.close(
                iid, by=ctx.name, note=ctx.field("note"), root_cause=ctx.field("root_cause"),
                lessons_learned=ctx.field("lessons_learned"),
            )  # fmt: skip
            return "Incident closed."
        if step == "reopen":
            c.reopen(iid, by=ctx.name, reason=ctx.field("reason"))
            return "Incident reopened: assess it again."
        c.record_action(iid, by=ctx.name, text=ctx.field("text"))
        return "Action recorded."

    return run


_STEPS: dict[str, Callable[[Ctx, str], str]] = {
    "confirm": _confirm,
    "correct-awareness": _correct_awareness,
    "dismiss": _simple("dismiss"),
    "assess": _assess,
    "decide": _decide,
    "notify-ico": _notify_ico,
    "inform-subjects": _inform,
    "exempt-subjects": _exempt,
    "close": _simple("close"),
    "reopen": _simple("reopen"),
    "record-action": _simple("record_action"),
    "tell": _tell,
    "task": _task,
    "ico-outcome": _ico_outcome,
    "family-told": _family_told,
    "split": _split,
    "merge": _merge,
    "assign": _assign,
    "note": _note,
}

ROUTES = [
    page("/incidents/{incident_id}", show, needs=Permission.VIEW_INCIDENTS),
    page("/incidents/{incident_id}/letter", letter, needs=Permission.VIEW_INCIDENTS),
    *(
        page(f"/incidents/{{incident_id}}/{name}", _step(name, run), needs=Permission.ACT_ON_INCIDENTS,
             methods=("POST",))
        for name, run in _STEPS.items()
    ),
]  # fmt: skip
