"""Task checklists per incident type, and the ICO's outcome (issue 15, "Checklists, evidence and closure").

Sources: the staff policy quoted in issue 15 (a lost laptop is reported "immediately to their
manager", and "the service user should be advised"); the ICO's guide to breaches (contain the
breach, record what was done and what the ICO decided).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from collector.domain.checklists import LOCK_FAILURE, LOST_DEVICE, USB_EGRESS, checklist, incident_types
from collector.domain.errors import InvalidCommand, InvalidTransition
from collector.domain.grouping import attach_alert
from collector.domain.incident import ReportType
from collector.domain.lifecycle import (
    Assess,
    CompleteTask,
    Confirm,
    DecideReportable,
    NotifyIco,
    RecordIcoOutcome,
    apply,
)
from collector.domain.register import register_row
from collector.domain.risk import score_assessment

from .builders import T0, egress_alert, lock_alert, lost_alert, new_incident

OFFICER = "ig.officer"


def test_each_incident_type_brings_its_checklist():
    lost = new_incident(lost_alert())
    assert incident_types(lost) == (LOST_DEVICE,)
    tasks = [t for t, _ in checklist(lost)]
    assert "Manager told" in tasks and "Service users advised" in tasks
    both = attach_alert(new_incident(egress_alert()), lock_alert(), T0 + timedelta(minutes=1)).incident
    assert incident_types(both) == (USB_EGRESS, LOCK_FAILURE)


def test_ticking_a_task_records_who_and_when_once():
    lost = new_incident(lost_alert())
    done = apply(lost, CompleteTask(OFFICER, "Manager told", "phoned"), T0 + timedelta(hours=1)).incident
    (task, record), *_ = checklist(done)
    assert task == "Manager told" and record is not None and (record.by, record.note) == (OFFICER, "phoned")
    with pytest.raises(InvalidCommand, match="already done"):
        apply(done, CompleteTask(OFFICER, "Manager told"), T0 + timedelta(hours=2))


def test_the_icos_outcome_is_recorded_only_after_a_report_and_reaches_the_register():
    incident = new_incident(lost_alert(at=T0 - timedelta(hours=1), received=T0))
    with pytest.raises(InvalidTransition):
        apply(incident, RecordIcoOutcome(OFFICER, "no further action"), T0)
    incident = apply(incident, Confirm(OFFICER, "lost", aware_at=T0), T0 + timedelta(hours=1)).incident
    a = score_assessment(4, 4, involves_vulnerable=True, rationale=(), assessed_at=T0, assessed_by=OFFICER,
                         draft=False)  # fmt: skip
    incident = apply(incident, Assess(OFFICER, a), T0 + timedelta(hours=1)).incident
    incident = apply(incident, DecideReportable(OFFICER, "unencrypted"), T0 + timedelta(hours=1)).incident
    incident = apply(incident, NotifyIco(OFFICER, ReportType.INITIAL), T0 + timedelta(hours=2)).incident
    incident = apply(incident, RecordIcoOutcome(OFFICER, "No further action"), T0 + timedelta(days=30)).incident
    assert register_row(incident).ico_outcome == "No further action"
