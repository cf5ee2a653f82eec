from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from collector.domain.incident import Incident, ReportType
from collector.domain.lifecycle import (
    Assess,
    Close,
    Confirm,
    DecideNotReportable,
    DecideReportable,
    Dismiss,
    InformSubjects,
    NotifyIco,
    RecordAction,
    apply,
)
from collector.domain.register import REGISTER_COLUMNS, neutralise_cell, register_rows, write_register_csv
from collector.domain.risk import score_assessment

from .builders import T0, egress_alert, lost_alert, new_incident

OFFICER = "ig.officer"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def assessed(incident: Incident, likelihood: int, severity: int) -> Incident:
    incident = apply(incident, Confirm(OFFICER, "confirmed", aware_at=T0), at(1)).incident
    a = score_assessment(
        likelihood, severity, involves_vulnerable=True, rationale=("generated rationale",), assessed_at=at(1),
        assessed_by=OFFICER, draft=False, note="officer note",
    )  # fmt: skip
    return apply(incident, Assess(OFFICER, a), at(2)).incident


def not_reported() -> Incident:
    incident = assessed(new_incident(lost_alert(received=T0), "inc-b", opened_at=T0 + timedelta(minutes=5)), 1, 2)
    incident = apply(incident, RecordAction(OFFICER, '=HYPERLINK("http://x")'), at(2)).incident
    incident = apply(incident, DecideNotReportable(OFFICER, "encrypted and locked"), at(3)).incident
    closing = Close(OFFICER, "recorded", root_cause="human error", lessons_learned="training")
    return apply(incident, closing, at(4)).incident


def reported_late() -> Incident:
    incident = assessed(new_incident(lost_alert(received=T0), "inc-a", opened_at=T0), 4, 4)
    incident = apply(incident, DecideReportable(OFFICER, "unencrypted"), at(3)).incident
    incident = apply(
        incident,
        NotifyIco(OFFICER, ReportType.INITIAL, ico_case_reference="IC-7", late_reasons="waited for police"),
        at(80),
    ).incident
    return apply(incident, InformSubjects(OFFICER, "letters"), at(90)).incident


def dismissed() -> Incident:
    return apply(new_incident(egress_alert(), "inc-c", opened_at=at(5)), Dismiss(OFFICER, "test file"), at(6)).incident


def test_every_incident_gets_a_row_reported_or_not_oldest_first():
    rows = register_rows([dismissed(), not_reported(), reported_late()])
    assert [r.incident_id for r in rows] == ["inc-a", "inc-b", "inc-c"]
    a, b, c = rows
    assert a.decision == "Reportable; ICO notified"
    assert (a.aware_at, a.deadline, a.ico_notified_at) == (
        "2025-10-20T09:00:00.000000Z", "2025-10-23T09:00:00.000000Z", "2025-10-23T17:00:00.000000Z",
    )  # fmt: skip
    assert (a.reported_late, a.late_reasons, a.ico_case_reference) == ("yes", "waited for police", "IC-7")
    assert a.people_told.startswith("Told")
    assert b.decision == "Not reportable: recorded internally"
    assert b.ico_notified_at == "" and b.reported_late == "" and b.closed_at == "2025-10-20T13:00:00.000000Z"
    assert "encrypted and locked" in b.decision_reasons and "decide_not_reportable" in b.decision_reasons
    assert "generated rationale" in b.effects and "officer note" in b.effects
    assert "HYPERLINK" in b.actions
    assert c.decision.startswith("Dismissed") and "test file" in c.decision_reasons and c.aware_at == ""
    assert "lost or stolen" in a.facts and "case file" in c.facts


def test_decision_reasons_list_every_decision_in_order():
    row = register_rows([reported_late()])[0]
    events = [line.split(" ")[1] for line in row.decision_reasons.splitlines()]
    assert events == ["confirm", "assess", "decide_reportable", "notify_ico", "inform_subjects"]


def test_csv_round_trips_and_neutralises_formulas():
    stream = io.StringIO()
    write_register_csv(register_rows([reported_late(), not_reported()]), stream)
    parsed = list(csv.reader(io.StringIO(stream.getvalue())))
    assert tuple(parsed[0]) == REGISTER_COLUMNS
    assert len(parsed) == 3
    actions = parsed[2][REGISTER_COLUMNS.index("actions")]
    assert "HYPERLINK" in actions
    for row in parsed[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_neutralise_cell():
    assert neutralise_cell("=1+1") == "'=1+1"
    assert neutralise_cell("+44 1234") == "'+44 1234"
    assert neutralise_cell("-5") == "'-5"
    assert neutralise_cell("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise_cell("\t=x") == "'\t=x"
    assert neutralise_cell("plain = text") == "plain = text"
    assert neutralise_cell("") == ""
