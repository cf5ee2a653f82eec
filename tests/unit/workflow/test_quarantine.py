"""An event the workflow cannot handle is quarantined and the cursor moves on; the sweep and retries."""

from __future__ import annotations

from datetime import timedelta

from collector.store.workflow_base import EVENT_CURSOR
from collector.workflow.service import WorkflowService
from tests.unit.workflow.helpers import EGRESS, World

YEAR_33658_US = 999_999_999_999 * 1_000_000  # stored by a collector from before the boundary checks


def _poison(world: World, device: str) -> str:
    """An egress stored the old way: occurred_at in the year 33658."""
    event_id = world.emit(world.device(device), "case_file_egress", EGRESS)
    world.events._db().execute("UPDATE events SET occurred_at = ? WHERE event_id = ?", (YEAR_33658_US, event_id))
    return event_id


def test_an_event_that_makes_the_workflow_raise_is_quarantined_and_others_still_become_incidents(
    world: World,
) -> None:
    poison = _poison(world, "old-laptop")
    world.emit(world.device("good-laptop"), "case_file_egress", EGRESS)
    report = world.service.catch_up()
    assert report.quarantined == 1 and report.alerts == 1
    [record] = world.store.list_incidents()
    assert {a.device_id for a in record.incident.alerts} == {"good-laptop"}
    [held] = world.store.quarantined()
    assert (held.device, held.event_id, held.kind, held.attempts) == ("old-laptop", poison, "case_file_egress", 1)
    assert "year" in held.reason and held.workflow_version == world.service.version
    # The cursor is past both events, in storage too: a restart does not stop at the poison again.
    assert world.store.counter(EVENT_CURSOR) == 2
    later = world.emit("good-laptop", "case_file_egress", {**EGRESS, "copy_burst_id": "burst-9"})
    assert world.service.catch_up().alerts == 1 and later
    assert world.store.quarantine_count() == 1 and world.store.quarantined()[0].attempts == 1


def test_a_corrupt_body_is_quarantined_not_retried_every_round(world: World) -> None:
    laptop = world.device("laptop-1")
    world.emit(laptop, "case_file_egress", EGRESS)
    world.events._db().execute("UPDATE events SET body = x'ffff'")
    report = world.service.catch_up()
    assert report.events == 1 and report.alerts == 0 and world.store.list_incidents() == []
    assert [q.kind for q in world.store.quarantined()] == ["case_file_egress"]
    world.service.tick()
    assert world.store.quarantined()[0].attempts == 1  # same version: left alone until asked


def test_quarantined_events_are_retried_after_an_upgrade_and_on_demand(world: World) -> None:
    poison = _poison(world, "old-laptop")
    world.service.catch_up()
    assert world.store.quarantine_count() == 1
    world.service.retry_quarantine()  # on demand, still failing: counted
    assert world.store.quarantined()[0].attempts == 2
    # The cause goes away (here: the row is repaired); the next version retries it by itself.
    world.events._db().execute("UPDATE events SET occurred_at = received_at WHERE event_id = ?", (poison,))
    upgraded = WorkflowService(world.store, policy=world.policy, clock=world.clock, version="99.0")
    upgraded.tick()
    assert world.store.quarantine_count() == 0
    [record] = world.store.list_incidents()
    assert record.incident.alerts[0].device_id == "old-laptop"


def test_the_sweep_handles_an_event_the_cursor_passed(world: World) -> None:
    laptop = world.device("laptop-1")
    world.emit(laptop, "heartbeat", {})
    missed = world.emit(laptop, "case_file_egress", EGRESS)
    world.emit(laptop, "heartbeat", {})
    # As on PostgreSQL when the egress's ingest transaction committed after the settle window.
    world.store.db.execute("INSERT INTO wf_counters(name, value) VALUES (?, 3)", (EVENT_CURSOR,))
    assert world.service.catch_up().alerts == 0 and world.store.list_incidents() == []
    report = world.service.sweep()
    assert report.alerts == 1
    [record] = world.store.list_incidents()
    assert record.incident.alerts[0].source_event_ids == (missed,)
    assert world.service.sweep().events == 0  # handled once, then left alone
    world.clock.advance(days=8)
    assert world.service.sweep().events == 0


def test_the_sweep_looks_back_only_as_far_as_the_policy_says(world: World) -> None:
    laptop = world.device("laptop-1")
    world.emit(laptop, "case_file_egress", EGRESS)
    world.store.db.execute("INSERT INTO wf_counters(name, value) VALUES (?, 1)", (EVENT_CURSOR,))
    world.clock.advance(days=7, seconds=1)
    assert world.service.sweep().events == 0
    world.clock.advance(days=-1)
    assert world.service.sweep().alerts == 1
    assert world.service.policy.sweep_lookback == timedelta(days=7)


def test_an_event_the_database_failed_on_is_retried_by_the_sweep(world: World) -> None:
    world.emit(world.device("laptop-1"), "case_file_egress", EGRESS)
    world.store.db.execute("ALTER TABLE wf_notifications RENAME TO wf_notifications_gone")
    world.service.catch_up()
    [held] = world.store.quarantined()
    assert held.cause == "storage" and world.store.list_incidents() == []
    world.store.db.execute("ALTER TABLE wf_notifications_gone RENAME TO wf_notifications")
    world.service.sweep()
    assert world.store.quarantine_count() == 0 and len(world.store.list_incidents()) == 1
