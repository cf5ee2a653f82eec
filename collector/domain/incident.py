"""The incident: a group of related alerts and everything decided about it, as one immutable value.

Only ``lifecycle`` and ``grouping`` make new Incident values; everything else reads them.
Nothing here is computed from the clock: the 72-hour deadline is derived in ``clocks``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.domain.alerts import Alert
from collector.domain.canonical_json import JsonValue
from collector.domain.risk import RiskAssessment


class IncidentState(enum.StrEnum):
    """Where an incident is in the breach life cycle (see ``lifecycle.TRANSITIONS``)."""

    SUSPECTED = "suspected"
    DISMISSED = "dismissed"
    CONFIRMED = "confirmed"
    ASSESSED = "assessed"
    NOT_REPORTABLE = "not_reportable"
    REPORTABLE = "reportable"
    ICO_NOTIFIED = "ico_notified"
    SUBJECTS_INFORMED = "subjects_informed"
    SUBJECTS_EXEMPT = "subjects_exempt"
    CLOSED = "closed"


# States in which new alerts may still join the incident.
OPEN_STATES: frozenset[IncidentState] = frozenset(IncidentState) - {IncidentState.CLOSED, IncidentState.DISMISSED}
# States reached before anyone is "aware" in the Art. 33 sense: aware_at is unset exactly here.
UNAWARE_STATES: frozenset[IncidentState] = frozenset({IncidentState.SUSPECTED, IncidentState.DISMISSED})


class IncidentEvent(enum.StrEnum):
    """Everything that can happen to an incident; each one leaves an audit record."""

    OPEN = "open"
    CONFIRM = "confirm"
    DISMISS = "dismiss"
    ASSESS = "assess"
    DECIDE_NOT_REPORTABLE = "decide_not_reportable"
    DECIDE_REPORTABLE = "decide_reportable"
    NOTIFY_ICO = "notify_ico"
    INFORM_SUBJECTS = "inform_subjects"
    EXEMPT_SUBJECTS = "exempt_subjects"
    CLOSE = "close"
    REOPEN = "reopen"
    RECORD_ACTION = "record_action"
    CORRECT_AWARENESS = "correct_awareness"
    RECORD_NOTIFICATION = "record_notification"
    RECORD_FAMILY_TOLD = "record_family_told"
    COMPLETE_TASK = "complete_task"
    RECORD_ICO_OUTCOME = "record_ico_outcome"
    ATTACH_ALERT = "attach_alert"
    SPLIT_ALERT = "split_alert"


class ReportType(enum.StrEnum):
    """Whether an ICO report is the first one or adds to it."""

    INITIAL = "initial"
    FOLLOW_UP = "follow_up"


class SubjectsGround(enum.StrEnum):
    """Why the people affected are not being told.

    The three Art. 34(3) exemptions, plus NOT_HIGH_RISK: Art. 34(1) applies only to high risk,
    so an ICO-reportable breach that is not high risk needs no exemption, only this decision.
    """

    ART_34_3_A = "art_34_3_a"
    ART_34_3_B = "art_34_3_b"
    ART_34_3_C = "art_34_3_c"
    NOT_HIGH_RISK = "not_high_risk"


SUBJECTS_GROUND_TEXT: Mapping[SubjectsGround, str] = {
    SubjectsGround.ART_34_3_A: "Art. 34(3)(a): the data was unintelligible to others (e.g. encrypted, key safe)",
    SubjectsGround.ART_34_3_B: "Art. 34(3)(b): later measures mean the high risk is no longer likely",
    SubjectsGround.ART_34_3_C: "Art. 34(3)(c): disproportionate effort; a public communication instead",
    SubjectsGround.NOT_HIGH_RISK: "Art. 34(1) not engaged: the risk to people is not high",
}


@dataclass(frozen=True)
class Awareness:
    """When the organisation became aware (Art. 33), who said so, why, and why later than the signal."""

    aware_at: datetime
    recorded_at: datetime
    by: str
    reason: str
    justification: str = ""


@dataclass(frozen=True)
class AwarenessCorrection:
    """A person corrected when the organisation became aware: who, when, why, old and new values."""

    at: datetime
    by: str
    reason: str
    old_aware_at: datetime
    new_aware_at: datetime
    justification: str = ""


@dataclass(frozen=True)
class ReportabilityDecision:
    """Whether to tell the ICO, by whom and why; ``agrees_with_grid`` notes an override of the grid."""

    reportable: bool
    at: datetime
    by: str
    reason: str
    agrees_with_grid: bool


@dataclass(frozen=True)
class IcoSubmission:
    """One report made to the ICO (outside Caseguard), as recorded by an IG officer."""

    report_type: ReportType
    submitted_at: datetime
    recorded_at: datetime
    by: str
    ico_case_reference: str = ""
    late_reasons: str = ""
    note: str = ""


@dataclass(frozen=True)
class SubjectsOutcome:
    """The Art. 34 outcome: told (how, in ``reason``) or not told (on ``ground``, because ``reason``)."""

    informed: bool
    at: datetime
    by: str
    reason: str
    ground: SubjectsGround | None = None


@dataclass(frozen=True)
class ActionTaken:
    """A containment, mitigation or prevention step someone recorded."""

    at: datetime
    by: str
    text: str


@dataclass(frozen=True)
class NotificationRecord:
    """A body told about the breach (DSPT, police, a configured body): when, by whom, their reference."""

    body: str
    told_at: datetime
    recorded_at: datetime
    by: str
    reference: str = ""
    note: str = ""


@dataclass(frozen=True)
class FamilyNotice:
    """One family (or person) told under Art. 34, under a label IG chose (e.g. "Family 1"), never a name."""

    label: str
    told_at: datetime
    recorded_at: datetime
    by: str
    how: str


@dataclass(frozen=True)
class TaskDone:
    """One checklist task done: which, by whom, when, with an optional note."""

    task: str
    at: datetime
    by: str
    note: str = ""


@dataclass(frozen=True)
class IcoOutcome:
    """What the ICO decided about the report (e.g. no further action, a reprimand), as IG recorded it."""

    at: datetime
    by: str
    outcome: str


@dataclass(frozen=True)
class Closure:
    """What closing recorded: the root cause and the lessons learned (the register needs both)."""

    at: datetime
    by: str
    root_cause: str
    lessons_learned: str


@dataclass(frozen=True)
class DecisionRecord:
    """One state-changing step, kept on the incident for the Art. 33(5) register."""

    event: IncidentEvent
    at: datetime
    by: str
    reason: str
    from_state: IncidentState
    to_state: IncidentState


@dataclass(frozen=True)
class Incident:
    """A suspected or confirmed personal data breach and its whole decision history.

    Fields set by a decision that reopening withdraws (``assessment``, ``reportability``,
    ``subjects``) are cleared on reopen; the history stays in ``decisions``. ICO submissions
    are facts and are never cleared.
    """

    incident_id: str
    opened_at: datetime
    state: IncidentState
    alerts: tuple[Alert, ...]
    awareness: Awareness | None = None
    assessment: RiskAssessment | None = None
    reportability: ReportabilityDecision | None = None
    ico_submissions: tuple[IcoSubmission, ...] = ()
    subjects: SubjectsOutcome | None = None
    actions: tuple[ActionTaken, ...] = ()
    decisions: tuple[DecisionRecord, ...] = ()
    reopen_count: int = 0
    awareness_corrections: tuple[AwarenessCorrection, ...] = ()
    notifications: tuple[NotificationRecord, ...] = ()
    families_told: tuple[FamilyNotice, ...] = ()
    closure: Closure | None = None
    near_miss: bool = False
    tasks_done: tuple[TaskDone, ...] = ()
    ico_outcome: IcoOutcome | None = None

    def notified(self, body: str) -> NotificationRecord | None:
        """The most recent record of telling ``body``, or None."""
        return next((n for n in reversed(self.notifications) if n.body == body), None)

    @property
    def aware_at(self) -> datetime | None:
        """When the organisation became aware, or None while merely suspected or dismissed."""
        return self.awareness.aware_at if self.awareness else None

    @property
    def initial_submission(self) -> IcoSubmission | None:
        """The initial ICO report, if one has been recorded."""
        return next((s for s in self.ico_submissions if s.report_type is ReportType.INITIAL), None)

    @property
    def ico_case_reference(self) -> str:
        """The ICO's case reference from the most recent submission that had one, or ""."""
        return next((s.ico_case_reference for s in reversed(self.ico_submissions) if s.ico_case_reference), "")

    @property
    def is_open(self) -> bool:
        """True while new alerts may join (not closed, not dismissed)."""
        return self.state in OPEN_STATES

    def alert(self, alert_id: str) -> Alert | None:
        """The alert with ``alert_id`` in this incident, or None."""
        return next((a for a in self.alerts if a.alert_id == alert_id), None)


@dataclass(frozen=True)
class AuditRecord:
    """What happened, who did it, when, and why: one per transition, for the audit chain.

    ``details`` holds JSON values only. ``audit_chain.append_entry(previous, **record.chain_fields())``
    turns the record into the next chain entry.
    """

    incident_id: str
    action: IncidentEvent
    at: datetime
    actor: str
    reason: str
    from_state: IncidentState | None
    to_state: IncidentState
    details: Mapping[str, JsonValue] = field(default_factory=dict)

    def chain_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``audit_chain.append_entry``: when, who, what, which incident, and why."""
        details: dict[str, JsonValue] = {
            **self.details,
            "reason": self.reason,
            "from_state": None if self.from_state is None else str(self.from_state),
            "to_state": str(self.to_state),
        }
        return {
            "at": self.at,
            "actor": self.actor,
            "action": f"incident.{self.action}",
            "subject": self.incident_id,
            "details": details,
        }


@dataclass(frozen=True)
class Transition:
    """The result of one step: the new incident and the audit record describing the step."""

    incident: Incident
    audit: AuditRecord
