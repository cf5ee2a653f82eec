"""The workflow thread in `serve`: wakes on commits, ticks, stops promptly; found devices go quiet."""

from __future__ import annotations

import time

from collector.domain.alerts import AlertKind
from collector.store.base import IngestOutcome
from collector.workflow.audit import verify_audit
from collector.workflow.runner import WorkflowRunner
from tests.unit.workflow.helpers import EGRESS, World


def test_a_commit_wakes_the_runner_and_stop_is_prompt(world: World) -> None:
    runner = WorkflowRunner(world.service, interval_s=3600, settle_s=0.01)
    runner.start()
    try:
        world.emit(world.device("laptop-1"), "case_file_egress", EGRESS)
        world.service.on_committed([], IngestOutcome(1, 0, 0))
        deadline = time.monotonic() + 10
        while not world.store.list_incidents() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(world.store.list_incidents()) == 1
    finally:
        started = time.monotonic()
        runner.stop()
        assert time.monotonic() - started < 2


def test_a_found_device_no_longer_raises_check_ins(world: World) -> None:
    lost = world.device("lost-laptop")
    incident_id = world.service.lost_device_reported(lost, world.report_lost(lost, world.device("other")))
    world.service.commands.device_found(lost, by="it.desk", reason="handed in at reception")
    world.clock.advance(hours=1)
    world.emit(lost, "test", {"index": 1})
    world.service.catch_up()
    record = world.store.get_incident(incident_id or "")
    assert record is not None and [a.kind for a in record.incident.alerts] == [AlertKind.LOST_DEVICE]
    assert [e.action for e in world.store.audit_entries()][-1] == "device.found"
    assert verify_audit(world.store)[1] == []
