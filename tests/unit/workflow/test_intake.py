"""From stored events to incidents: grouping, the provisional clock, idempotency, lost devices."""

from __future__ import annotations

from datetime import timedelta

from collector.domain.alerts import AlertKind
from collector.domain.audit_chain import verify
from collector.domain.incident_facts import describe_what_happened
from collector.domain.risk import Recommendation
from collector.store.workflow_base import EVENT_CURSOR
from tests.unit.workflow.helpers import EGRESS, ENCRYPTED, HEARTBEAT, LOCKED, NOT_ENCRYPTED, T0, World


def _notices(world: World) -> list[tuple[str, str]]:
    rows = world.store.db.execute("SELECT kind, incident_id FROM wf_notifications ORDER BY id").fetchall()
    return [(r[0], r[1]) for r in rows]


def test_egress_opens_one_incident_with_the_provisional_clock_and_a_draft(world: World) -> None:
    laptop = world.device("laptop-1")
    world.emit(laptop, "test", {"index": 1})
    world.emit(laptop, "case_file_egress", EGRESS)
    world.clock.advance(seconds=5)
    report = world.service.catch_up()
    assert report.alerts == 1
    [record] = world.store.list_incidents()
    incident = record.incident
    assert incident.incident_id == "INC-2025-0001" and str(incident.state) == "suspected"
    assert [a.kind for a in incident.alerts] == [AlertKind.CASE_FILE_EGRESS]
    assert incident.alerts[0].files[0].file_name == "Child A.docx"  # every field is kept for IG officers
    assert incident.alerts[0].received_at == T0  # the provisional clock starts when the collector learned
    assert record.draft is not None and record.draft.draft
    assert _notices(world) == [("new_incident", "INC-2025-0001")]


def test_catching_up_twice_changes_nothing(world: World) -> None:
    laptop = world.device("laptop-1")
    world.emit(laptop, "case_file_egress", EGRESS)
    world.service.catch_up()
    world.store.db.execute("UPDATE wf_counters SET value = 0 WHERE name = ?", (EVENT_CURSOR,))
    world.service.intake._cursor = 0  # as after a crash before the cursor was saved
    again = world.service.catch_up()
    assert again.events == 1 and again.alerts == 0
    assert len(world.store.list_incidents()) == 1 and len(_notices(world)) == 1
    assert verify(list(world.store.audit_entries()), expected_head=world.store.audit_head()) == []


def test_same_burst_joins_and_a_new_destination_later_opens_another(world: World) -> None:
    laptop = world.device("laptop-1")
    world.emit(laptop, "case_file_egress", EGRESS)
    world.emit(laptop, "case_file_egress", {**EGRESS, "file": {**EGRESS["file"], "sha256_hmac": "ef" * 16}})
    world.clock.advance(hours=3)
    world.emit(
        laptop,
        "case_file_egress",
        {
            **EGRESS,
            "copy_burst_id": "burst-2",
            "destination_class": "DESTINATION_CLASS_PERSONAL_CLOUD",
            "destination_kind": "dropbox_personal",
            "volume": {},
        },
    )
    world.service.catch_up()
    first, second = world.store.list_incidents()
    assert len(first.incident.alerts) == 2 and len(second.incident.alerts) == 1


def test_non_breach_events_only_move_the_cursor(world: World) -> None:
    laptop = world.device("laptop-1")
    for i in range(5):
        world.emit(laptop, "test", {"index": i})
    report = world.service.catch_up()
    assert report.alerts == 0 and report.cursor == 5 and world.store.list_incidents() == []
    assert world.store.counter(EVENT_CURSOR) == 0  # no write transaction for nothing
    world.service.intake.save_cursor()
    assert world.store.counter(EVENT_CURSOR) == 5


def _lost_draft(world: World, posture: dict) -> Recommendation:
    lost = world.device("lost-laptop")
    reporter = world.device("colleague-laptop")
    world.emit(lost, "encryption_posture", posture)
    world.emit(lost, "lock_posture", LOCKED)
    world.emit(lost, "heartbeat", HEARTBEAT)
    world.clock.advance(hours=2)
    report_id = world.report_lost(lost, reporter, was_locked=True, was_locked_known=True)
    incident_id = world.service.lost_device_reported(lost, report_id)
    record = world.store.get_incident(incident_id or "")
    assert record is not None and record.draft is not None
    assert [a.kind for a in record.incident.alerts] == [AlertKind.LOST_DEVICE]
    assert record.incident.alerts[0].reporter_device_id == "colleague-laptop"
    return record.draft.recommendation


def test_lost_encrypted_locked_laptop_drafts_record_internally(world: World) -> None:
    assert _lost_draft(world, ENCRYPTED) is Recommendation.RECORD_INTERNALLY


def test_lost_unencrypted_laptop_drafts_high_risk(world: World) -> None:
    assert _lost_draft(world, NOT_ENCRYPTED) in (
        Recommendation.REPORT_AND_TELL_PEOPLE,
        Recommendation.REPORT_ICO_DHSC_AND_TELL_PEOPLE,
    )


def test_a_lost_device_checking_in_raises_an_alert_on_its_incident(world: World) -> None:
    lost = world.device("lost-laptop")
    reporter = world.device("colleague-laptop")
    report_id = world.report_lost(lost, reporter)
    incident_id = world.service.lost_device_reported(lost, report_id)
    assert world.service.lost_device_reported(lost, report_id) == incident_id  # idempotent
    world.clock.advance(minutes=10)
    world.emit(lost, "heartbeat", {"interval_s": 300})
    world.emit(lost, "heartbeat", {"interval_s": 300})
    world.service.catch_up()
    record = world.store.get_incident(incident_id or "")
    assert record is not None
    kinds = [a.kind for a in record.incident.alerts]
    assert kinds == [AlertKind.LOST_DEVICE, AlertKind.LOST_DEVICE_CHECK_IN]  # one a day, not one per event
    assert ("lost_device_check_in", incident_id) in _notices(world)


def test_a_heartbeat_call_from_a_lost_device_raises_the_check_in(world: World) -> None:
    lost = world.device("lost-laptop")
    report_id = world.report_lost(lost, world.device("other"))
    incident_id = world.service.lost_device_reported(lost, report_id)
    world.clock.advance(hours=1)
    world.service.lost_device_heard(lost, int((T0 + timedelta(hours=1)).timestamp() * 1_000_000))
    record = world.store.get_incident(incident_id or "")
    assert record is not None and record.incident.alerts[-1].kind is AlertKind.LOST_DEVICE_CHECK_IN
    assert record.incident.alerts[-1].source_event_ids == ("heartbeat",)


def test_the_lockdown_confirmation_and_the_network_class_are_recorded_on_the_incident(world: World) -> None:
    """Issue 15: the incident records the check-in, its network address class and what the device did."""
    lost = world.device("lost-laptop")
    incident_id = world.service.lost_device_reported(lost, world.report_lost(lost, world.device("other")))
    world.clock.advance(minutes=5)
    now_us = int((T0 + timedelta(minutes=5)).timestamp() * 1_000_000)
    world.service.lost_device_heard(lost, now_us, "the public internet")
    world.clock.advance(seconds=3)
    lock = {"idle_seconds": 2.0, "method": "command", "idle_timeout_s": 300, "lateness_s": 0.4,
            "trigger": "lost_device"}  # fmt: skip
    world.emit(lost, "lock_enforced", lock)
    world.emit(lost, "lock_enforced", {**lock, "trigger": "idle"})  # an ordinary idle lock is no confirmation
    world.service.catch_up()
    record = world.store.get_incident(incident_id or "")
    assert record is not None
    check_ins = [a for a in record.incident.alerts if a.kind is AlertKind.LOST_DEVICE_CHECK_IN]
    assert [(a.network, a.locked_by) for a in check_ins] == [("the public internet", ""), ("", "command")]
    facts = describe_what_happened(record.incident)
    assert "from the public internet" in facts and "locked every session" in facts
    assert [k for k, i in _notices(world) if i == incident_id].count("lost_device_check_in") == 1  # one mail


def test_the_network_class_is_kept_when_an_event_reached_the_workflow_before_the_heartbeat(world: World) -> None:
    """The day's check-in is one alert whichever comes first; the heartbeat's network class joins it."""
    lost = world.device("lost-laptop")
    incident_id = world.service.lost_device_reported(lost, world.report_lost(lost, world.device("other")))
    world.clock.advance(minutes=5)
    world.emit(lost, "heartbeat", {"interval_s": 300})  # an event first: it carries no address
    world.service.catch_up()
    now_us = int((T0 + timedelta(minutes=5)).timestamp() * 1_000_000)
    world.service.lost_device_heard(lost, now_us, "the public internet")
    record = world.store.get_incident(incident_id or "")
    assert record is not None
    check_ins = [a for a in record.incident.alerts if a.kind is AlertKind.LOST_DEVICE_CHECK_IN]
    assert [a.network for a in check_ins] == ["the public internet"]
    assert "from the public internet" in describe_what_happened(record.incident)
    assert [k for k, i in _notices(world) if i == incident_id].count("lost_device_check_in") == 1  # still one mail


def test_hooks_never_raise(world: World) -> None:
    lost = world.device("lost-laptop")
    report_id = world.report_lost(lost, world.device("other"))
    world.store.db.execute("DROP TABLE wf_notifications")  # the workflow is now broken
    assert world.service.lost_device_reported(lost, report_id) is None
    world.service.lost_device_heard(lost, int(T0.timestamp() * 1_000_000) + 1)
    assert world.store.list_incidents() == []  # rolled back, to be retried by the tick
