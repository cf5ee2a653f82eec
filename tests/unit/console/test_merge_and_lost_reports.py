"""The workflow's merge command (added for the console) and the shared lost-device report path."""

from __future__ import annotations

import pytest

from collector.api.lost_reports import file_lost_report, lost_report_body
from collector.domain.incident import IncidentState
from collector.store.base import UnknownDevice
from collector.store.group_commit import GroupCommitWriter
from collector.workflow.audit import verify_audit
from collector.workflow.errors import WorkflowError
from collector.workflow.times import to_us
from tests.unit.workflow.helpers import EGRESS, T0, World


def _two_incidents(world: World) -> tuple[str, str]:
    world.emit(world.device("laptop-1"), "case_file_egress", EGRESS)
    world.emit(world.device("laptop-2"), "case_file_egress", {**EGRESS, "copy_burst_id": "burst-2"})
    world.service.catch_up()
    first, second = (r.incident_id for r in world.store.list_incidents())
    return first, second


def test_merge_moves_every_alert_and_dismisses_the_source_as_merged(world: World) -> None:
    target, source = _two_incidents(world)
    merged = world.service.commands.merge(target, source, by="ig.officer", reason="same worker, same stick")
    assert {a.device_id for a in merged.incident.alerts} == {"laptop-1", "laptop-2"}
    old = world.store.get_incident(source)
    assert old is not None and old.incident.state is IncidentState.DISMISSED
    assert old.incident.decisions[-1].reason == f"merged into {target}: same worker, same stick"
    assert world.store.incident_for_alert(old.incident.alerts[0].alert_id) == target
    actions = [e.action for e in world.store.audit_entries()]
    assert "incident.merge" in actions and actions.count("incident.attach_alert") == 1
    assert verify_audit(world.store)[1] == []


def test_merge_refuses_confirmed_sources_itself_and_no_reason(world: World) -> None:
    target, source = _two_incidents(world)
    c = world.service.commands
    with pytest.raises(WorkflowError, match="why"):
        c.merge(target, source, by="ig", reason=" ")
    with pytest.raises(WorkflowError, match="itself"):
        c.merge(target, target, by="ig", reason="r")
    world.clock.advance(minutes=5)
    c.confirm(source, by="ig", aware_at=T0, reason="copy")
    with pytest.raises(WorkflowError, match="only a suspected incident"):
        c.merge(target, source, by="ig", reason="r")
    assert len(world.store.get_incident(target).incident.alerts) == 1  # type: ignore[union-attr]


def test_a_lost_report_is_stored_marked_and_opens_its_incident_at_once(world: World) -> None:
    world.device("laptop-1")
    writer = GroupCommitWriter(world.events)
    try:
        body = lost_report_body("laptop-1", reported_by="console:staff.one", circumstances="train", was_locked=None)
        now = to_us(world.clock.now)
        filed = file_lost_report(world.events, writer, world.service, "laptop-1", body, lost_at_us=0, now_us=now)
        assert filed.incident_id is not None and filed.reference == filed.incident_id
        record = world.store.get_incident(filed.incident_id)
        assert record is not None
        report = record.incident.alerts[0].lost_report
        assert report is not None and report.reported_by == "console:staff.one" and report.was_locked is None
        assert world.events.get_device("laptop-1").lost_at_us == now  # type: ignore[union-attr]
        with pytest.raises(UnknownDevice):
            file_lost_report(world.events, writer, world.service, "nope", body, lost_at_us=0, now_us=now)
    finally:
        writer.stop()
