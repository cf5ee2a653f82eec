"""``uninspectable_file`` events: files the agent could not judge, grouped per copy burst, below egress."""

from __future__ import annotations

from typing import Any

from collector.domain.alerts import AlertKind
from collector.domain.event_facts import DestinationClass
from collector.store.base import StoredEvent
from collector.wire.event_codec import alert_from_event
from tests.unit.workflow.helpers import EGRESS, World, body

US = 1_760_950_800_000_000  # 2025-10-20T09:00:00Z

UNINSPECTABLE: dict[str, Any] = {
    "destination_class": "DESTINATION_CLASS_REMOVABLE_VOLUME",
    "destination_kind": "usb",
    "volume": EGRESS["volume"],
    "copy_burst_id": "burst-1",
    "arrival": "ARRIVAL_CLOSED_AFTER_WRITE",
    "extension": "zip",
    "size_bytes": 40_960,
    "reason": "encrypted",
    "sha256_hmac": "ee" * 32,
}


def test_the_event_becomes_an_alert_about_one_unread_file() -> None:
    stored = StoredEvent("dev-a", "00000000-0000-0000-0000-000000000001", 1, "uninspectable_file", US, US + 5, "1.0",
                         body("uninspectable_file", UNINSPECTABLE))
    alert = alert_from_event(stored)
    assert alert is not None and alert.kind is AlertKind.UNINSPECTABLE_FILE
    assert alert.destination_class is DestinationClass.REMOVABLE_VOLUME and alert.copy_burst_id == "burst-1"
    [unread] = alert.files
    assert (unread.extension, unread.size_bytes, unread.error) == ("zip", 40_960, "encrypted")
    assert alert.reasons == () and unread.file_name == ""


def test_one_burst_of_unreadable_files_is_one_incident_without_a_breach_draft(world: World) -> None:
    laptop = world.device("laptop-1")
    for i in range(40):
        world.emit(laptop, "uninspectable_file", {**UNINSPECTABLE, "sha256_hmac": f"{i:064x}"})
    world.clock.advance(hours=3)
    world.emit(laptop, "uninspectable_file", {**UNINSPECTABLE, "copy_burst_id": "burst-2"})
    world.service.catch_up()
    first, second = world.store.list_incidents()
    assert len(first.incident.alerts) == 40 and len(second.incident.alerts) == 1
    assert {a.kind for a in first.incident.alerts} == {AlertKind.UNINSPECTABLE_FILE}
    # Ranked below case-file egress: IG sees the incident, but no risk assessment is drafted for it.
    assert first.draft is None


def test_unreadable_files_in_a_burst_that_carried_case_files_join_the_egress_incident(world: World) -> None:
    laptop = world.device("laptop-1")
    world.emit(laptop, "uninspectable_file", UNINSPECTABLE)
    world.emit(laptop, "case_file_egress", EGRESS)
    world.service.catch_up()
    [record] = world.store.list_incidents()
    kinds = [a.kind for a in record.incident.alerts]
    assert kinds == [AlertKind.UNINSPECTABLE_FILE, AlertKind.CASE_FILE_EGRESS]
    assert record.draft is not None  # the egress drafts the assessment
