from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from collector.domain.clocks import deadline
from collector.domain.errors import (
    AwarenessJustificationRequired,
    InvalidCommand,
    InvalidTimestamp,
    InvalidTransition,
    LateReasonsRequired,
    MissingReason,
)
from collector.domain.incident import Incident, IncidentEvent, IncidentState, ReportType, SubjectsGround, Transition
from collector.domain.lifecycle import (
    TRANSITIONS,
    Assess,
    Close,
    Command,
    Confirm,
    DecideNotReportable,
    DecideReportable,
    Dismiss,
    ExemptSubjects,
    InformSubjects,
    NotifyIco,
    RecordAction,
    Reopen,
    allowed_events,
    apply,
)
from collector.domain.risk import RiskAssessment, score_assessment

from .builders import T0, egress_alert, lost_alert, new_incident

S = IncidentState
OFFICER = "ig.officer"


def assessment(likelihood: int = 4, severity: int = 4, at: datetime = T0, draft: bool = False) -> RiskAssessment:
    return score_assessment(
        likelihood, severity, involves_vulnerable=True, rationale=("synthetic",), assessed_at=at,
        assessed_by=OFFICER, draft=draft,
    )  # fmt: skip


def run(incident: Incident, *steps: tuple[Command, float]) -> Transition:
    """Apply (command, hours after T0) pairs in order; return the last transition."""
    result = None
    for command, hours in steps:
        result = apply(incident, command, T0 + timedelta(hours=hours))
        incident = result.incident
    assert result is not None
    return result


def suspected() -> Incident:
    return new_incident(lost_alert(at=T0 - timedelta(hours=1), received=T0))


def confirmed_at_t0() -> Incident:
    return run(suspected(), (Confirm(OFFICER, "laptop gone", aware_at=T0), 1)).incident


def reportable() -> Incident:
    return run(
        confirmed_at_t0(),
        (Assess(OFFICER, assessment(at=T0 + timedelta(hours=2))), 2),
        (DecideReportable(OFFICER, "unencrypted laptop"), 3),
    ).incident


def test_every_state_has_a_row_and_closed_is_reached_only_from_decisions():
    assert set(TRANSITIONS) == set(IncidentState)
    into_closed = {s for s, steps in TRANSITIONS.items() if steps.get(IncidentEvent.CLOSE) is S.CLOSED}
    assert into_closed == {S.NOT_REPORTABLE, S.SUBJECTS_INFORMED, S.SUBJECTS_EXEMPT}
    assert {s for s, steps in TRANSITIONS.items() if IncidentEvent.REOPEN in steps} == {
        S.CLOSED, S.NOT_REPORTABLE, S.DISMISSED,
    }  # fmt: skip


def test_full_reportable_path_records_every_decision_and_audit():
    incident = reportable()
    result = run(
        incident,
        (NotifyIco(OFFICER, ReportType.INITIAL, ico_case_reference=""), 10),
        (NotifyIco(OFFICER, ReportType.FOLLOW_UP, ico_case_reference="IC-000001-X1X1", note="scan results"), 30),
        (InformSubjects(OFFICER, "letters to the families"), 40),
        (RecordAction(OFFICER, "stick recovered"), 45),
        (Close(OFFICER, "done", root_cause="human error", lessons_learned="training"), 50),
    )
    final = result.incident
    assert final.state is S.CLOSED
    assert [d.event for d in final.decisions] == [
        IncidentEvent.CONFIRM, IncidentEvent.ASSESS, IncidentEvent.DECIDE_REPORTABLE, IncidentEvent.NOTIFY_ICO,
        IncidentEvent.NOTIFY_ICO, IncidentEvent.INFORM_SUBJECTS, IncidentEvent.CLOSE,
    ]  # fmt: skip
    assert [s.report_type for s in final.ico_submissions] == [ReportType.INITIAL, ReportType.FOLLOW_UP]
    assert final.ico_case_reference == "IC-000001-X1X1"
    assert final.subjects is not None and final.subjects.informed
    assert result.audit.action is IncidentEvent.CLOSE
    assert (result.audit.from_state, result.audit.to_state, result.audit.actor) == (
        S.SUBJECTS_INFORMED,
        S.CLOSED,
        OFFICER,
    )
    assert result.audit.at == T0 + timedelta(hours=50)


def test_confirm_sets_aware_at_who_and_why_and_audits_the_deadline():
    result = apply(suspected(), Confirm(OFFICER, "staff call", aware_at=T0), T0 + timedelta(hours=1))
    awareness = result.incident.awareness
    assert awareness is not None
    assert (awareness.aware_at, awareness.by, awareness.reason, awareness.recorded_at) == (
        T0, OFFICER, "staff call", T0 + timedelta(hours=1),
    )  # fmt: skip
    assert result.audit.details["deadline"] == "2025-10-23T09:00:00.000000Z"
    assert deadline(result.incident) == T0 + timedelta(hours=72)


def test_confirm_later_than_the_provisional_start_needs_justification():
    incident = suspected()  # the loss report was received at T0
    with pytest.raises(AwarenessJustificationRequired):
        apply(incident, Confirm(OFFICER, "checked", aware_at=T0 + timedelta(hours=5)), T0 + timedelta(hours=6))
    ok = apply(
        incident,
        Confirm(OFFICER, "checked", aware_at=T0 + timedelta(hours=5), justification="report was a test by IT"),
        T0 + timedelta(hours=6),
    )
    assert ok.incident.aware_at == T0 + timedelta(hours=5)
    earlier = apply(incident, Confirm(OFFICER, "checked", aware_at=T0 - timedelta(hours=1)), T0 + timedelta(hours=6))
    assert earlier.incident.aware_at == T0 - timedelta(hours=1)


def test_confirm_rejects_future_awareness_and_missing_reason():
    with pytest.raises(InvalidTimestamp):
        apply(suspected(), Confirm(OFFICER, "x", aware_at=T0 + timedelta(hours=2)), T0 + timedelta(hours=1))
    with pytest.raises(MissingReason):
        apply(suspected(), Confirm(OFFICER, "  ", aware_at=T0), T0 + timedelta(hours=1))


def test_low_confidence_signal_starts_no_provisional_clock_so_no_justification_needed():
    incident = new_incident(egress_alert(confidence=0.5, reasons=("content",)))
    result = apply(incident, Confirm(OFFICER, "looked", aware_at=T0 + timedelta(hours=3)), T0 + timedelta(hours=3))
    assert result.incident.aware_at == T0 + timedelta(hours=3)


def test_dismiss_needs_a_reason_and_dismissed_reopens_to_suspected():
    with pytest.raises(MissingReason):
        apply(suspected(), Dismiss(OFFICER, ""), T0)
    dismissed = apply(suspected(), Dismiss(OFFICER, "the laptop was found in the office"), T0 + timedelta(hours=1))
    assert dismissed.incident.state is S.DISMISSED and dismissed.incident.aware_at is None
    reopened = apply(dismissed.incident, Reopen(OFFICER, "found laptop missing its disk"), T0 + timedelta(hours=2))
    assert reopened.incident.state is S.SUSPECTED and reopened.incident.reopen_count == 1


def test_assess_refuses_a_draft():
    with pytest.raises(InvalidCommand):
        apply(confirmed_at_t0(), Assess(OFFICER, assessment(draft=True)), T0 + timedelta(hours=2))


def test_reassessment_is_allowed_while_assessed():
    once = run(confirmed_at_t0(), (Assess(OFFICER, assessment(2, 2)), 2)).incident
    twice = apply(once, Assess(OFFICER, assessment(4, 4)), T0 + timedelta(hours=3)).incident
    assert twice.state is S.ASSESSED and twice.assessment is not None and twice.assessment.likelihood == 4


def test_not_reportable_needs_a_reason_and_stops_nothing_else():
    assessed = run(confirmed_at_t0(), (Assess(OFFICER, assessment(1, 1)), 2)).incident
    with pytest.raises(MissingReason):
        apply(assessed, DecideNotReportable(OFFICER, " "), T0 + timedelta(hours=3))
    decided = apply(assessed, DecideNotReportable(OFFICER, "encrypted, locked"), T0 + timedelta(hours=3))
    assert decided.incident.reportability is not None
    assert decided.incident.reportability.agrees_with_grid
    assert decided.audit.details == {"agrees_with_grid": True}


def test_deciding_against_the_grid_is_allowed_but_marked():
    assessed = run(confirmed_at_t0(), (Assess(OFFICER, assessment(4, 4)), 2)).incident
    decided = apply(assessed, DecideNotReportable(OFFICER, "device recovered unopened"), T0 + timedelta(hours=3))
    assert decided.incident.reportability is not None and not decided.incident.reportability.agrees_with_grid


def test_initial_report_after_the_deadline_needs_reasons_for_delay():
    late = T0 + timedelta(hours=72, minutes=1)
    with pytest.raises(LateReasonsRequired):
        apply(reportable(), NotifyIco(OFFICER, ReportType.INITIAL), late)
    ok = apply(reportable(), NotifyIco(OFFICER, ReportType.INITIAL, late_reasons="bank holiday staffing"), late)
    assert ok.audit.details["late"] is True
    on_time = apply(reportable(), NotifyIco(OFFICER, ReportType.INITIAL), T0 + timedelta(hours=72))
    assert on_time.audit.details["late"] is False


def test_backdated_submission_is_judged_by_submission_time_not_recording_time():
    recorded_late = apply(
        reportable(),
        NotifyIco(OFFICER, ReportType.INITIAL, submitted_at=T0 + timedelta(hours=70)),
        T0 + timedelta(hours=80),
    )
    assert recorded_late.incident.initial_submission is not None
    assert recorded_late.incident.initial_submission.submitted_at == T0 + timedelta(hours=70)
    with pytest.raises(InvalidTimestamp):
        apply(
            reportable(),
            NotifyIco(OFFICER, ReportType.INITIAL, submitted_at=T0 + timedelta(hours=9)),
            T0 + timedelta(hours=8),
        )


def test_report_types_must_follow_initial_then_follow_up_with_a_case_reference():
    with pytest.raises(InvalidCommand):
        apply(
            reportable(), NotifyIco(OFFICER, ReportType.FOLLOW_UP, ico_case_reference="IC-1"), T0 + timedelta(hours=5)
        )
    notified = apply(reportable(), NotifyIco(OFFICER, ReportType.INITIAL), T0 + timedelta(hours=5)).incident
    with pytest.raises(InvalidCommand):
        apply(notified, NotifyIco(OFFICER, ReportType.INITIAL), T0 + timedelta(hours=6))
    with pytest.raises(MissingReason):
        apply(notified, NotifyIco(OFFICER, ReportType.FOLLOW_UP), T0 + timedelta(hours=6))


def test_exemption_needs_a_ground_and_reason():
    notified = apply(reportable(), NotifyIco(OFFICER, ReportType.INITIAL), T0 + timedelta(hours=5)).incident
    with pytest.raises(MissingReason):
        apply(notified, ExemptSubjects(OFFICER, SubjectsGround.ART_34_3_A, ""), T0 + timedelta(hours=6))
    with pytest.raises(InvalidCommand):
        apply(notified, ExemptSubjects(OFFICER, "art_34_3_z", "x"), T0 + timedelta(hours=6))  # type: ignore[arg-type]
    exempt = apply(
        notified, ExemptSubjects(OFFICER, SubjectsGround.ART_34_3_C, "no addresses"), T0 + timedelta(hours=6)
    )
    assert exempt.incident.state is S.SUBJECTS_EXEMPT
    assert exempt.audit.details == {"ground": "art_34_3_c", "agrees_with_grid": True}
    not_high = apply(notified, ExemptSubjects(OFFICER, SubjectsGround.NOT_HIGH_RISK, "x"), T0 + timedelta(hours=6))
    assert not_high.audit.details["agrees_with_grid"] is False  # the grid said high risk


def test_reopen_clears_assessment_and_decisions_but_keeps_awareness_and_reports():
    closed = run(
        reportable(),
        (NotifyIco(OFFICER, ReportType.INITIAL, ico_case_reference="IC-9"), 5),
        (ExemptSubjects(OFFICER, SubjectsGround.ART_34_3_A, "encrypted"), 6),
        (RecordAction(OFFICER, "laptop wiped"), 6.5),
        (Close(OFFICER, root_cause="human error", lessons_learned="training"), 7),
    ).incident
    reopened = apply(closed, Reopen(OFFICER, "key was on a sticky note"), T0 + timedelta(hours=100)).incident
    assert reopened.state is S.CONFIRMED
    assert (reopened.assessment, reopened.reportability, reopened.subjects) == (None, None, None)
    assert reopened.aware_at == T0 and reopened.ico_submissions == closed.ico_submissions
    with pytest.raises(InvalidTransition):
        apply(reopened, DecideReportable(OFFICER, "x"), T0 + timedelta(hours=101))
    again = run(
        reopened,
        (Assess(OFFICER, assessment(at=T0 + timedelta(hours=101))), 101),
        (DecideReportable(OFFICER, "key exposed"), 102),
        (NotifyIco(OFFICER, ReportType.FOLLOW_UP), 103),  # the case reference is already known
    ).incident
    assert again.state is S.ICO_NOTIFIED and len(again.ico_submissions) == 2


@pytest.mark.parametrize(
    ("state_builder", "command"),
    [
        (suspected, Assess(OFFICER, assessment())),
        (suspected, Close(OFFICER, root_cause="human error", lessons_learned="training")),
        (suspected, Reopen(OFFICER, "x")),
        (confirmed_at_t0, DecideReportable(OFFICER, "x")),
        (confirmed_at_t0, Dismiss(OFFICER, "x")),
        (reportable, InformSubjects(OFFICER, "letter")),
        (reportable, Close(OFFICER, root_cause="human error", lessons_learned="training")),
    ],
)
def test_invalid_transitions_raise_a_clear_error_and_leave_the_incident_unchanged(state_builder, command):
    incident = state_builder()
    before = incident
    with pytest.raises(InvalidTransition) as info:
        apply(incident, command, T0 + timedelta(hours=4))
    assert incident == before
    assert f"cannot {command.event}" in str(info.value)
    assert info.value.allowed == tuple(str(e) for e in allowed_events(incident.state))


def test_record_action_is_allowed_anywhere_and_changes_no_state():
    incident = confirmed_at_t0()
    result = apply(incident, RecordAction(OFFICER, "remote wipe requested"), T0 + timedelta(hours=2))
    assert result.incident.state is S.CONFIRMED
    assert [a.text for a in result.incident.actions] == ["remote wipe requested"]
    assert result.incident.decisions == incident.decisions
    with pytest.raises(MissingReason):
        apply(incident, RecordAction(OFFICER, ""), T0 + timedelta(hours=2))


def test_every_step_needs_an_actor():
    with pytest.raises(InvalidCommand):
        apply(suspected(), Dismiss(" ", "x"), T0)
