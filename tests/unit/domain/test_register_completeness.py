"""The register records what Art. 33(5) asks, and closing needs what the register needs (issue 15, finding 9).

Sources:
- [ART33-5] UK GDPR Art. 33(5): "document any personal data breaches, comprising the facts
  relating to the personal data breach, its effects and the remedial action taken".
- [ICO-LOG] ICO, "Personal data breaches: a guide": record the breach and "what you have done
  (or will do) to ... stop it happening again" (the root cause and lessons learned).
- [ART34] Art. 34(1): tell the people affected "without undue delay" when the risk is high.
- [DSPT] the DSPT guide distinguishes near misses (incidents where no data was compromised).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from collector.domain.errors import InvalidCommand, MissingReason
from collector.domain.incident import Incident, ReportType, SubjectsGround
from collector.domain.lifecycle import (
    Assess,
    Close,
    Confirm,
    DecideNotReportable,
    DecideReportable,
    Dismiss,
    ExemptSubjects,
    NotifyIco,
    RecordAction,
    RecordNotification,
    apply,
)
from collector.domain.register import REGISTER_COLUMNS, register_row
from collector.domain.risk import score_assessment

from .builders import T0, egress_alert, lost_alert, new_incident

OFFICER = "ig.officer"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def assessed(likelihood: int, severity: int) -> Incident:
    incident = new_incident(lost_alert(at=T0 - timedelta(hours=1), received=T0))
    incident = apply(incident, Confirm(OFFICER, "lost", aware_at=T0), at(1)).incident
    a = score_assessment(likelihood, severity, involves_vulnerable=True, rationale=(), assessed_at=at(1),
                         assessed_by=OFFICER, draft=False)  # fmt: skip
    return apply(incident, Assess(OFFICER, a), at(1)).incident


def test_the_register_has_people_categories_actions_root_cause_lessons_and_others_told():
    """[ART33-5] [ICO-LOG]."""
    for column in ("people_affected", "data_categories", "actions", "root_cause", "lessons_learned",
                   "others_told", "art34_against_grid", "reminder"):  # fmt: skip
        assert column in REGISTER_COLUMNS
    incident = assessed(1, 2)
    incident = apply(incident, DecideNotReportable(OFFICER, "encrypted"), at(2)).incident
    incident = apply(incident, RecordAction(OFFICER, "laptop wiped remotely"), at(2)).incident
    closed = apply(incident, Close(OFFICER, root_cause="left in a car", lessons_learned="lock-box policy"), at(3))
    row = register_row(closed.incident, people_affected=4, data_categories=("Health data",))
    assert (row.people_affected, row.data_categories) == ("4", "Health data")
    assert (row.root_cause, row.lessons_learned) == ("left in a car", "lock-box policy")
    assert register_row(closed.incident).people_affected == "not yet known"


def test_closing_needs_a_remedial_action_a_root_cause_and_lessons_learned():
    """[ART33-5] the remedial action taken; [ICO-LOG] root cause and lessons."""
    incident = apply(assessed(1, 2), DecideNotReportable(OFFICER, "encrypted"), at(2)).incident
    with pytest.raises(InvalidCommand, match="remedial action"):
        apply(incident, Close(OFFICER, root_cause="x", lessons_learned="y"), at(3))
    incident = apply(incident, RecordAction(OFFICER, "wiped"), at(2)).incident
    with pytest.raises(MissingReason, match="root cause"):
        apply(incident, Close(OFFICER, lessons_learned="y"), at(3))
    with pytest.raises(MissingReason, match="lessons learned"):
        apply(incident, Close(OFFICER, root_cause="x"), at(3))


def test_a_near_miss_is_distinct_from_a_dismissal():
    """[DSPT] a near miss is recorded as such, not as "not a breach"."""
    near = apply(new_incident(egress_alert()), Dismiss(OFFICER, "stick recovered unread", near_miss=True), at(1))
    false_match = apply(new_incident(egress_alert()), Dismiss(OFFICER, "not a case file"), at(1))
    assert register_row(near.incident).decision.startswith("Near miss")
    assert register_row(false_match.incident).decision.startswith("Dismissed: not a personal data breach")


def test_art34_against_the_grid_is_flagged_and_telling_people_is_reminded_after_the_ico_report():
    """[ART34] high risk: the register says when people still have to be told, and flags overrides."""
    incident = assessed(4, 4)
    incident = apply(incident, DecideReportable(OFFICER, "unencrypted"), at(2)).incident
    incident = apply(incident, NotifyIco(OFFICER, ReportType.INITIAL, ico_case_reference="IC-1"), at(3)).incident
    incident = apply(incident, RecordNotification(OFFICER, "police", "CR/9/26"), at(3)).incident
    row = register_row(incident)
    assert row.reminder.startswith("Tell the people affected without undue delay (Art. 34)")
    assert "police" in row.others_told and "CR/9/26" in row.others_told
    exempt = apply(incident, ExemptSubjects(OFFICER, SubjectsGround.NOT_HIGH_RISK, "we disagree"), at(4)).incident
    row = register_row(exempt)
    assert row.art34_against_grid.startswith("yes") and row.reminder == ""
