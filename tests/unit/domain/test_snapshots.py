from __future__ import annotations

import json
from datetime import timedelta

import pytest

from collector.domain.alerts import Alert, alert_for_silent_device
from collector.domain.device_signals import sequence_gap_alerts
from collector.domain.event_facts import SeqRange
from collector.domain.grouping import attach_alert
from collector.domain.incident import Incident, ReportType, SubjectsGround
from collector.domain.lifecycle import (
    Assess,
    Close,
    Confirm,
    DecideReportable,
    ExemptSubjects,
    NotifyIco,
    RecordAction,
    Reopen,
    apply,
)
from collector.domain.pre_assessment import pre_assess_egress
from collector.domain.risk import confirm_assessment
from collector.domain.snapshots import SnapshotError, restore, snapshot

from .builders import T0, egress_alert, found_alert, lock_alert, lost_alert, new_incident

ALERTS = [
    egress_alert(burst="b-1", file_name="secret.docx", markings=("OFFICIAL-SENSITIVE",)),
    found_alert(files=3),
    lock_alert(),
    lost_alert(was_locked=False),
    alert_for_silent_device("dev-a", T0, T0 + timedelta(days=20)),
    *sequence_gap_alerts("dev-a", [(SeqRange(4, 9), T0)], T0 + timedelta(days=1)),
]


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: str(a.kind))
def test_alerts_round_trip_through_json_without_losing_a_field(alert):
    text = json.dumps(snapshot(alert))
    assert restore(Alert, json.loads(text)) == alert


def test_a_full_incident_round_trips():
    incident = new_incident(ALERTS[0])
    incident = attach_alert(incident, ALERTS[1], T0 + timedelta(minutes=1)).incident
    incident = apply(
        incident, Confirm("ig", "copy", aware_at=T0 + timedelta(seconds=5)), T0 + timedelta(hours=1)
    ).incident
    draft = pre_assess_egress(incident.alerts, T0 + timedelta(hours=1))
    incident = apply(
        incident, Assess("ig", confirm_assessment(draft, by="ig", at=T0 + timedelta(hours=1))), T0 + timedelta(hours=2)
    ).incident
    incident = apply(incident, DecideReportable("ig", "usb"), T0 + timedelta(hours=3)).incident
    incident = apply(
        incident, NotifyIco("ig", ReportType.INITIAL, ico_case_reference="IC-1"), T0 + timedelta(hours=4)
    ).incident
    incident = apply(
        incident, ExemptSubjects("ig", SubjectsGround.ART_34_3_B, "stick recovered"), T0 + timedelta(hours=5)
    ).incident
    incident = apply(incident, RecordAction("ig", "stick wiped"), T0 + timedelta(hours=6)).incident
    closing = Close("ig", root_cause="human error", lessons_learned="training")
    incident = apply(incident, closing, T0 + timedelta(hours=7)).incident
    incident = apply(incident, Reopen("ig", "second stick"), T0 + timedelta(hours=8)).incident
    assert restore(Incident, json.loads(json.dumps(snapshot(incident)))) == incident


def test_restore_refuses_unknown_fields_and_wrong_types():
    data = snapshot(ALERTS[2])
    assert isinstance(data, dict)
    with pytest.raises(SnapshotError):
        restore(Alert, {**data, "surprise": 1})
    with pytest.raises(SnapshotError):
        restore(Alert, {**data, "kind": "not_a_kind"})
    with pytest.raises(SnapshotError):
        restore(Alert, {**data, "source_seqs": "1"})


def test_missing_optional_keys_take_defaults():
    data = snapshot(ALERTS[2])
    assert isinstance(data, dict)
    del data["scan_id"]
    assert restore(Alert, data) == ALERTS[2]
