"""The breach life cycle as a pure state machine driven by a transition table.

Feed an incident a command with ``apply(incident, command, now)``; get back a new
incident and an audit record, or a ``DomainError`` with the incident untouched (it is
immutable). The table says which steps each state allows; the guards in ``_payload``
say what each step needs (reasons, justifications, a confirmed assessment).

In short: suspected -> confirmed -> assessed -> reportable -> ico_notified (follow-ups
stay there) -> subjects_informed | subjects_exempt -> closed; or assessed ->
not_reportable -> closed; or suspected -> dismissed. Reopening (closed, not_reportable,
dismissed) goes back to confirmed (or suspected, if never confirmed) and clears the
assessment, so every decision after it rests on a fresh assessment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar

from collector.domain.alerts import Alert
from collector.domain.canonical_json import JsonValue
from collector.domain.clocks import (
    DEFAULT_CLOCK_POLICY,
    ClockPolicy,
    check_awareness,
    format_london,
    is_late,
    statutory_deadline,
)
from collector.domain.errors import (
    InvalidCommand,
    InvalidTimestamp,
    InvalidTransition,
    LateReasonsRequired,
    MissingReason,
)
from collector.domain.incident import (
    UNAWARE_STATES,
    ActionTaken,
    AuditRecord,
    Awareness,
    AwarenessCorrection,
    Closure,
    DecisionRecord,
    FamilyNotice,
    IcoOutcome,
    IcoSubmission,
    Incident,
    IncidentEvent,
    IncidentState,
    NotificationRecord,
    ReportabilityDecision,
    ReportType,
    SubjectsGround,
    SubjectsOutcome,
    TaskDone,
    Transition,
)
from collector.domain.instants import iso_utc, require_utc
from collector.domain.risk import RiskAssessment

S = IncidentState
E = IncidentEvent

# The life cycle's decisions: for each state, the steps it allows and where each one leads.
_DECISIONS: Mapping[IncidentState, Mapping[IncidentEvent, IncidentState]] = {
    S.SUSPECTED: {E.CONFIRM: S.CONFIRMED, E.DISMISS: S.DISMISSED},
    S.DISMISSED: {E.REOPEN: S.SUSPECTED},
    S.CONFIRMED: {E.ASSESS: S.ASSESSED},
    S.ASSESSED: {E.ASSESS: S.ASSESSED, E.DECIDE_NOT_REPORTABLE: S.NOT_REPORTABLE, E.DECIDE_REPORTABLE: S.REPORTABLE},
    S.NOT_REPORTABLE: {E.CLOSE: S.CLOSED, E.REOPEN: S.CONFIRMED},
    S.REPORTABLE: {E.NOTIFY_ICO: S.ICO_NOTIFIED},
    S.ICO_NOTIFIED: {
        E.NOTIFY_ICO: S.ICO_NOTIFIED,
        E.INFORM_SUBJECTS: S.SUBJECTS_INFORMED,
        E.EXEMPT_SUBJECTS: S.SUBJECTS_EXEMPT,
    },
    S.SUBJECTS_INFORMED: {E.CLOSE: S.CLOSED},
    S.SUBJECTS_EXEMPT: {E.CLOSE: S.CLOSED},
    S.CLOSED: {E.REOPEN: S.CONFIRMED},
}
# The full table: the decisions plus RECORD_ACTION, which every state allows and which never moves,
# and CORRECT_AWARENESS, which every state with an awareness time allows (also never moves).
# RECORD_NOTIFICATION and RECORD_FAMILY_TOLD (telling a body or a family) are allowed once aware, too:
# people may be told before the ICO is.
_AWARE_STEPS = (E.CORRECT_AWARENESS, E.RECORD_NOTIFICATION, E.RECORD_FAMILY_TOLD)
# Recording the ICO's outcome needs a report to the ICO first.
_AFTER_ICO = frozenset({S.ICO_NOTIFIED, S.SUBJECTS_INFORMED, S.SUBJECTS_EXEMPT, S.CLOSED})
TRANSITIONS: Mapping[IncidentState, Mapping[IncidentEvent, IncidentState]] = {
    state: {
        **steps,
        E.RECORD_ACTION: state,
        E.COMPLETE_TASK: state,
        **({} if state in UNAWARE_STATES else dict.fromkeys(_AWARE_STEPS, state)),
        **({E.RECORD_ICO_OUTCOME: state} if state in _AFTER_ICO else {}),
    }
    for state, steps in _DECISIONS.items()
}
# Steps that never change the state and are not decisions: kept out of the decision history.
_NOT_DECISIONS = frozenset(
    {E.RECORD_ACTION, E.RECORD_NOTIFICATION, E.RECORD_FAMILY_TOLD, E.COMPLETE_TASK, E.RECORD_ICO_OUTCOME}
)

SYSTEM_ACTOR = "caseguard"


@dataclass(frozen=True)
class Confirm:
    """Confirm the breach: the organisation became aware at ``aware_at`` (may be in the past)."""

    event: ClassVar[IncidentEvent] = E.CONFIRM
    actor: str
    reason: str
    aware_at: datetime
    justification: str = ""


@dataclass(frozen=True)
class Dismiss:
    """Not a personal data breach after all; reason required.

    ``near_miss`` records a security incident that did not compromise personal data (the
    stick was recovered unread, the lock failed but nobody else was there), which the
    register keeps apart from a false match.
    """

    event: ClassVar[IncidentEvent] = E.DISMISS
    actor: str
    reason: str
    near_miss: bool = False


@dataclass(frozen=True)
class Assess:
    """Record a confirmed (non-draft) risk assessment."""

    event: ClassVar[IncidentEvent] = E.ASSESS
    actor: str
    assessment: RiskAssessment


@dataclass(frozen=True)
class DecideNotReportable:
    """Decide the breach is unlikely to result in a risk: record internally; reason required."""

    event: ClassVar[IncidentEvent] = E.DECIDE_NOT_REPORTABLE
    actor: str
    reason: str


@dataclass(frozen=True)
class DecideReportable:
    """Decide the ICO must be told; reason required."""

    event: ClassVar[IncidentEvent] = E.DECIDE_REPORTABLE
    actor: str
    reason: str


@dataclass(frozen=True)
class NotifyIco:
    """Record a report made to the ICO. ``submitted_at`` defaults to now.

    An initial report after the deadline needs ``late_reasons``; a follow-up needs an ICO
    case reference (given here or on an earlier submission).
    """

    event: ClassVar[IncidentEvent] = E.NOTIFY_ICO
    actor: str
    report_type: ReportType
    submitted_at: datetime | None = None
    ico_case_reference: str = ""
    late_reasons: str = ""
    note: str = ""


@dataclass(frozen=True)
class InformSubjects:
    """Record that the people affected were told; ``how`` says how (letter, call, ...)."""

    event: ClassVar[IncidentEvent] = E.INFORM_SUBJECTS
    actor: str
    how: str
    informed_at: datetime | None = None


@dataclass(frozen=True)
class ExemptSubjects:
    """Record not telling the people affected, on an Art. 34(3) ground (or not high risk), with reason."""

    event: ClassVar[IncidentEvent] = E.EXEMPT_SUBJECTS
    actor: str
    ground: SubjectsGround
    reason: str


@dataclass(frozen=True)
class Close:
    """Close an incident whose decisions are complete.

    Art. 33(5) records the remedial action taken, so at least one action must be recorded;
    the root cause and the lessons learned are required too.
    """

    event: ClassVar[IncidentEvent] = E.CLOSE
    actor: str
    note: str = ""
    root_cause: str = ""
    lessons_learned: str = ""


@dataclass(frozen=True)
class Reopen:
    """Reopen on new evidence: clears the assessment and the decisions that rested on it."""

    event: ClassVar[IncidentEvent] = E.REOPEN
    actor: str
    reason: str


@dataclass(frozen=True)
class RecordAction:
    """Record a containment, mitigation or prevention step (state unchanged)."""

    event: ClassVar[IncidentEvent] = E.RECORD_ACTION
    actor: str
    text: str


@dataclass(frozen=True)
class CorrectAwareness:
    """Correct when the organisation became aware (any state after confirming; state unchanged).

    Needs a reason; the new time is checked like a confirmation's (not in the future, not
    before the breach, justified if later than the first high-confidence signal). The old
    and new values are kept on the incident and in the audit record.
    """

    event: ClassVar[IncidentEvent] = E.CORRECT_AWARENESS
    actor: str
    reason: str
    aware_at: datetime
    justification: str = ""


@dataclass(frozen=True)
class RecordNotification:
    """Record telling a body about the breach (``body``: "dspt", "police" or a configured key).

    The police need their crime reference; ``told_at`` defaults to now.
    """

    event: ClassVar[IncidentEvent] = E.RECORD_NOTIFICATION
    actor: str
    body: str
    reference: str = ""
    told_at: datetime | None = None
    note: str = ""


@dataclass(frozen=True)
class RecordFamilyTold:
    """Record that one family (under IG's own label, not a name) was told under Art. 34, and how."""

    event: ClassVar[IncidentEvent] = E.RECORD_FAMILY_TOLD
    actor: str
    label: str
    how: str
    told_at: datetime | None = None


@dataclass(frozen=True)
class CompleteTask:
    """Tick a checklist task (from the incident type's configured checklist); each task once."""

    event: ClassVar[IncidentEvent] = E.COMPLETE_TASK
    actor: str
    task: str
    note: str = ""


@dataclass(frozen=True)
class RecordIcoOutcome:
    """Record what the ICO decided about the report (after a report was made)."""

    event: ClassVar[IncidentEvent] = E.RECORD_ICO_OUTCOME
    actor: str
    outcome: str


Command = (
    Confirm
    | CompleteTask
    | RecordIcoOutcome
    | RecordNotification
    | RecordFamilyTold
    | CorrectAwareness
    | Dismiss
    | Assess
    | DecideNotReportable
    | DecideReportable
    | NotifyIco
    | InformSubjects
    | ExemptSubjects
    | Close
    | Reopen
    | RecordAction
)


def allowed_events(state: IncidentState) -> tuple[IncidentEvent, ...]:
    """The steps ``state`` allows, in table order (for menus and error messages)."""
    return tuple(TRANSITIONS[state])


def open_incident(incident_id: str, alert: Alert, now: datetime, actor: str = SYSTEM_ACTOR) -> Transition:
    """Open a new suspected incident holding ``alert``."""
    current = require_utc(now, "now")
    incident = Incident(incident_id=incident_id, opened_at=current, state=S.SUSPECTED, alerts=(alert,))
    audit = AuditRecord(
        incident_id, E.OPEN, current, actor, "new alert", None, S.SUSPECTED,
        {"alert_id": alert.alert_id, "alert_kind": str(alert.kind), "device_id": alert.device_id},
    )  # fmt: skip
    return Transition(incident, audit)


def apply(
    incident: Incident, command: Command, now: datetime, policy: ClockPolicy = DEFAULT_CLOCK_POLICY
) -> Transition:
    """Apply one step to ``incident`` at ``now``; raise a ``DomainError`` if it is not allowed."""
    current = require_utc(now, "now")
    target = TRANSITIONS[incident.state].get(command.event)
    if target is None:
        raise InvalidTransition(
            str(incident.state), str(command.event), tuple(map(str, allowed_events(incident.state)))
        )
    if not command.actor.strip():
        raise InvalidCommand("every step needs a named actor")
    updated, reason, details = _payload(incident, command, current, policy)
    if command.event not in _NOT_DECISIONS:
        record = DecisionRecord(command.event, current, command.actor, reason, incident.state, target)
        updated = replace(updated, decisions=(*updated.decisions, record))
    updated = replace(updated, state=target)
    audit = AuditRecord(
        incident.incident_id, command.event, current, command.actor, reason, incident.state, target, details
    )
    return Transition(updated, audit)


def _required(text: str, what: str) -> str:
    if not text.strip():
        raise MissingReason(f"{what} is required")
    return text.strip()


def _not_future(moment: datetime | None, now: datetime, name: str) -> datetime:
    value = now if moment is None else require_utc(moment, name)
    if value > now:
        raise InvalidTimestamp(f"{name} cannot be in the future")
    return value


def _payload(
    incident: Incident, command: Command, now: datetime, policy: ClockPolicy
) -> tuple[Incident, str, dict[str, JsonValue]]:
    """Check the step's guards and make the changed incident, the reason, and audit details."""
    match command:
        case Confirm(actor=actor, reason=reason, aware_at=aware_at, justification=justification):
            why = _required(reason, "a reason for confirming the breach")
            check_awareness(incident, aware_at, justification, now, policy)
            aware = Awareness(require_utc(aware_at, "aware_at"), now, actor, why, justification.strip())
            due = statutory_deadline(aware.aware_at)
            details: dict[str, JsonValue] = {
                "aware_at": iso_utc(aware.aware_at),
                "deadline": iso_utc(due),
                "deadline_london": format_london(due),
                "justification": aware.justification,
            }
            return replace(incident, awareness=aware), why, details
        case CorrectAwareness():
            return _correct_awareness(incident, command, now, policy)
        case RecordNotification(actor=actor, body=body, reference=reference, told_at=told_at, note=note):
            name = _required(body, "which body was told")
            if name == "police" and not reference.strip():
                raise MissingReason("a report to the police needs its crime reference")
            record = NotificationRecord(
                name, _not_future(told_at, now, "told_at"), now, actor, reference.strip(), note.strip()
            )
            details = {"body": name, "told_at": iso_utc(record.told_at), "reference": record.reference}
            return replace(incident, notifications=(*incident.notifications, record)), f"told {name}", details
        case RecordFamilyTold(actor=actor, label=label, how=how, told_at=told_at):
            tag = _required(label, "a label for the family (e.g. Family 1; not a name)")
            if any(f.label == tag for f in incident.families_told):
                raise InvalidCommand(f"{tag} is already recorded as told")
            told = _not_future(told_at, now, "told_at")
            notice = FamilyNotice(tag, told, now, actor, _required(how, "how they were told"))
            details = {"label": tag, "told_at": iso_utc(notice.told_at)}
            return replace(incident, families_told=(*incident.families_told, notice)), notice.how, details
        case CompleteTask():
            name = _required(command.task, "which task was done")
            if any(t.task == name for t in incident.tasks_done):
                raise InvalidCommand(f"“{name}” is already done")
            done = TaskDone(name, now, command.actor, command.note.strip())
            return replace(incident, tasks_done=(*incident.tasks_done, done)), name, {"task": name}
        case RecordIcoOutcome():
            text = _required(command.outcome, "the ICO's outcome")
            return replace(incident, ico_outcome=IcoOutcome(now, command.actor, text)), text, {}
        case Dismiss(reason=reason, near_miss=near_miss):
            why = _required(reason, "a reason for dismissing")
            return replace(incident, near_miss=near_miss), why, {"near_miss": near_miss}
        case Assess(assessment=assessment):
            if assessment.draft:
                raise InvalidCommand("a drafted assessment must be confirmed by a person before it is recorded")
            _not_future(assessment.assessed_at, now, "assessed_at")
            details = {
                "likelihood": int(assessment.likelihood),
                "severity": int(assessment.severity),
                "ico_reportable": assessment.ico_reportable,
                "high_risk": assessment.high_risk,
                "rationale": list(assessment.rationale),
            }
            return replace(incident, assessment=assessment), str(assessment.recommendation), details
        case DecideNotReportable(actor=actor, reason=reason) | DecideReportable(actor=actor, reason=reason):
            reportable = isinstance(command, DecideReportable)
            why = _required(reason, "a reason for the reportability decision")
            if incident.assessment is None:  # pragma: no cover - ASSESSED always has one
                raise InvalidCommand("decide after an assessment is recorded")
            agrees = incident.assessment.ico_reportable == reportable
            decision = ReportabilityDecision(reportable, now, actor, why, agrees)
            return replace(incident, reportability=decision), why, {"agrees_with_grid": agrees}
        case NotifyIco():
            return _notify_ico(incident, command, now)
        case InformSubjects(actor=actor, how=how, informed_at=informed_at):
            why = _required(how, "how the people affected were told")
            outcome = SubjectsOutcome(True, _not_future(informed_at, now, "informed_at"), actor, why)
            return replace(incident, subjects=outcome), why, {"informed_at": iso_utc(outcome.at)}
        case ExemptSubjects(actor=actor, ground=ground, reason=reason):
            if not isinstance(ground, SubjectsGround):
                raise InvalidCommand(f"unknown ground for not telling people: {ground!r}")
            why = _required(reason, "a reason for not telling the people affected")
            agrees = incident.assessment is None or not (
                ground is SubjectsGround.NOT_HIGH_RISK and incident.assessment.high_risk
            )
            outcome = SubjectsOutcome(False, now, actor, why, ground)
            return replace(incident, subjects=outcome), why, {"ground": str(ground), "agrees_with_grid": agrees}
        case Close(actor=actor, note=note, root_cause=root_cause, lessons_learned=lessons_learned):
            cause = _required(root_cause, "the root cause")
            lessons = _required(lessons_learned, "the lessons learned")
            if not incident.actions:
                raise InvalidCommand("record at least one remedial action taken before closing")
            closure = Closure(now, actor, cause, lessons)
            details = {"root_cause": cause, "lessons_learned": lessons}
            return replace(incident, closure=closure), note.strip(), details
        case Reopen(reason=reason):
            why = _required(reason, "the new evidence for reopening")
            cleared = replace(
                incident, assessment=None, reportability=None, subjects=None, reopen_count=incident.reopen_count + 1,
                near_miss=False,
            )
            return cleared, why, {"reopen_count": cleared.reopen_count}
        case RecordAction(actor=actor, text=text):
            action = ActionTaken(now, actor, _required(text, "a description of the action"))
            return replace(incident, actions=(*incident.actions, action)), action.text, {}
    raise InvalidCommand(f"unknown command {command!r}")  # pragma: no cover - the match is exhaustive


def _correct_awareness(
    incident: Incident, command: CorrectAwareness, now: datetime, policy: ClockPolicy
) -> tuple[Incident, str, dict[str, JsonValue]]:
    old = incident.awareness
    if old is None:  # pragma: no cover - the table allows the step only once aware
        raise InvalidCommand("confirm the breach before correcting when the organisation became aware")
    why = _required(command.reason, "a reason for correcting the awareness time")
    new_at = require_utc(command.aware_at, "aware_at")
    if new_at == old.aware_at:
        raise InvalidCommand(f"the organisation is already recorded as aware at {format_london(new_at)}")
    check_awareness(incident, new_at, command.justification, now, policy)
    correction = AwarenessCorrection(now, command.actor, why, old.aware_at, new_at, command.justification.strip())
    aware = Awareness(new_at, now, command.actor, why, command.justification.strip())
    due = statutory_deadline(new_at)
    details: dict[str, JsonValue] = {
        "old_aware_at": iso_utc(old.aware_at),
        "new_aware_at": iso_utc(new_at),
        "old_deadline": iso_utc(statutory_deadline(old.aware_at)),
        "deadline": iso_utc(due),
        "deadline_london": format_london(due),
        "justification": correction.justification,
    }
    updated = replace(incident, awareness=aware, awareness_corrections=(*incident.awareness_corrections, correction))
    return updated, why, details


def _notify_ico(incident: Incident, command: NotifyIco, now: datetime) -> tuple[Incident, str, dict[str, JsonValue]]:
    submitted = _not_future(command.submitted_at, now, "submitted_at")
    has_initial = incident.initial_submission is not None
    expected = ReportType.FOLLOW_UP if has_initial else ReportType.INITIAL
    if command.report_type is not expected:
        raise InvalidCommand(
            f"this must be {'a follow-up' if has_initial else 'the initial'} report: "
            f"{'an initial report is already recorded' if has_initial else 'no initial report is recorded yet'}"
        )
    late = command.report_type is ReportType.INITIAL and is_late(incident, submitted)
    if late and not command.late_reasons.strip():
        raise LateReasonsRequired("the report is after the 72-hour deadline: give the reasons for the delay")
    reference = command.ico_case_reference.strip()
    if command.report_type is ReportType.FOLLOW_UP and not (reference or incident.ico_case_reference):
        raise MissingReason("a follow-up report needs the ICO case reference")
    submission = IcoSubmission(
        command.report_type,
        submitted,
        now,
        command.actor,
        reference,
        command.late_reasons.strip(),
        command.note.strip(),
    )
    reason = command.note.strip() or f"{command.report_type} report to the ICO"
    details: dict[str, JsonValue] = {
        "report_type": str(command.report_type),
        "submitted_at": iso_utc(submitted),
        "late": late,
        "late_reasons": submission.late_reasons,
        "ico_case_reference": reference,
    }
    return replace(incident, ico_submissions=(*incident.ico_submissions, submission)), reason, details
