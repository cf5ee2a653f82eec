"""Correcting when the organisation became aware (issue 15, finding 2).

Sources:
- UK GDPR Art. 33(1): notify "without undue delay and, where feasible, not later than 72 hours
  after having become aware of it"; ICO, "Personal data breaches: a guide": you become aware
  when you have "a reasonable degree of certainty that a security incident has occurred that
  has led to personal data being compromised". Awareness therefore cannot precede the breach,
  and the deadline always follows the current, corrected awareness time.
- Art. 33(5): the record must let the ICO verify compliance, hence who corrected it, why, and
  the old and new values.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from collector.domain.clocks import deadline
from collector.domain.errors import InvalidTimestamp, InvalidTransition, MissingReason
from collector.domain.incident import Incident, IncidentEvent, IncidentState, ReportType
from collector.domain.lifecycle import (
    Assess,
    Close,
    Confirm,
    CorrectAwareness,
    DecideNotReportable,
    DecideReportable,
    Dismiss,
    NotifyIco,
    RecordAction,
    Reopen,
    apply,
)
from collector.domain.register import register_row
from collector.domain.risk import score_assessment

from .builders import T0, lost_alert, new_incident

OFFICER = "ig.officer"
LOST_AT = T0 - timedelta(hours=1)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def confirmed(aware_at: datetime = T0) -> Incident:
    incident = new_incident(lost_alert(at=LOST_AT, received=T0))
    return apply(incident, Confirm(OFFICER, "laptop lost", aware_at=aware_at), at(1)).incident


def reported(aware_at: datetime) -> Incident:
    incident = confirmed(aware_at)
    a = score_assessment(4, 4, involves_vulnerable=True, rationale=(), assessed_at=at(1), assessed_by=OFFICER,
                         draft=False)  # fmt: skip
    incident = apply(incident, Assess(OFFICER, a), at(1)).incident
    incident = apply(incident, DecideReportable(OFFICER, "unencrypted"), at(1)).incident
    command = NotifyIco(OFFICER, ReportType.INITIAL, submitted_at=at(80), late_reasons="police asked us to wait")
    return apply(incident, command, at(81)).incident


def test_confirm_refuses_an_awareness_time_before_the_breach_happened():
    """Issue 15 finding 2: confirm accepted aware_at a year before the loss (hours_left -8,688)."""
    incident = new_incident(lost_alert(at=LOST_AT, received=T0))
    with pytest.raises(InvalidTimestamp, match="before the breach happened"):
        apply(incident, Confirm(OFFICER, "typo", aware_at=T0 - timedelta(days=362)), at(1))


def test_a_correction_after_the_ico_report_moves_the_deadline_and_the_register_stops_saying_late():
    """Art. 33(1): the deadline follows the corrected awareness; the register reflects it."""
    incident = reported(aware_at=T0 - timedelta(minutes=30))  # typed wrongly: really aware at T0 + 20 h
    assert register_row(incident).reported_late == "yes"
    fixed = apply(
        incident,
        CorrectAwareness(OFFICER, "the loss was only reported to IG the next morning", at(20), "police report"),
        at(90),
    )
    assert fixed.incident.state is IncidentState.ICO_NOTIFIED
    assert deadline(fixed.incident) == at(92)
    assert register_row(fixed.incident).reported_late == "no"


def test_the_correction_is_audited_with_who_why_and_the_old_and_new_values():
    """Art. 33(5): the record must show the change, not overwrite it silently."""
    incident = confirmed(T0)
    result = apply(incident, CorrectAwareness(OFFICER, "mistyped the hour", at(-0.5)), at(2))
    correction = result.incident.awareness_corrections[-1]
    assert (correction.old_aware_at, correction.new_aware_at, correction.by) == (T0, at(-0.5), OFFICER)
    assert correction.reason == "mistyped the hour"
    assert result.audit.action is IncidentEvent.CORRECT_AWARENESS
    assert result.audit.details["old_aware_at"] == "2025-10-20T09:00:00.000000Z"
    assert result.audit.details["new_aware_at"] == "2025-10-20T08:30:00.000000Z"
    assert result.incident.decisions[-1].event is IncidentEvent.CORRECT_AWARENESS


def test_a_correction_is_checked_like_a_confirmation():
    """Not before the breach, not in the future, a reason, and a justification when later than the signal."""
    incident = confirmed(T0)
    with pytest.raises(InvalidTimestamp, match="before the breach"):
        apply(incident, CorrectAwareness(OFFICER, "why", LOST_AT - timedelta(minutes=1)), at(2))
    with pytest.raises(InvalidTimestamp, match="future"):
        apply(incident, CorrectAwareness(OFFICER, "why", at(3)), at(2))
    with pytest.raises(MissingReason):
        apply(incident, CorrectAwareness(OFFICER, "  ", at(-0.5)), at(2))
    with pytest.raises(MissingReason, match="not aware earlier"):
        apply(incident, CorrectAwareness(OFFICER, "why", at(1)), at(2))


def test_a_correction_works_after_reopening_a_closed_incident():
    """Reopen keeps the awareness time; it can still be corrected."""
    incident = confirmed(T0)
    a = score_assessment(1, 1, involves_vulnerable=False, rationale=(), assessed_at=at(1), assessed_by=OFFICER,
                         draft=False)  # fmt: skip
    incident = apply(incident, Assess(OFFICER, a), at(1)).incident
    incident = apply(incident, DecideNotReportable(OFFICER, "encrypted"), at(1)).incident
    incident = apply(incident, RecordAction(OFFICER, "laptop wiped"), at(1)).incident
    incident = apply(incident, Close(OFFICER, root_cause="human error", lessons_learned="training"), at(2)).incident
    incident = apply(incident, CorrectAwareness(OFFICER, "closed incidents too", at(-0.25)), at(3)).incident
    assert incident.state is IncidentState.CLOSED and incident.aware_at == at(-0.25)
    incident = apply(incident, Reopen(OFFICER, "new evidence"), at(4)).incident
    incident = apply(incident, CorrectAwareness(OFFICER, "and after reopening", at(-0.75)), at(5)).incident
    assert incident.state is IncidentState.CONFIRMED and incident.aware_at == at(-0.75)
    assert len(incident.awareness_corrections) == 2


def test_nobody_corrects_an_awareness_that_was_never_recorded():
    incident = new_incident(lost_alert(at=LOST_AT, received=T0))
    with pytest.raises(InvalidTransition):
        apply(incident, CorrectAwareness(OFFICER, "why", T0), at(1))
    dismissed = apply(incident, Dismiss(OFFICER, "false match"), at(1)).incident
    with pytest.raises(InvalidTransition):
        apply(dismissed, CorrectAwareness(OFFICER, "why", T0), at(2))
