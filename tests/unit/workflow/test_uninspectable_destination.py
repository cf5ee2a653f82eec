"""``uninspectable_destination`` events: a phone attached over MTP reaches IG as an incident."""

from __future__ import annotations

from typing import Any

from collector.console.presenters import ALERT_KIND_TEXT, DESTINATION_TEXT
from collector.domain.alerts import AlertKind
from collector.domain.event_facts import DestinationClass
from collector.store.base import StoredEvent
from collector.wire.event_codec import alert_from_event
from tests.unit.workflow.helpers import World, body

US = 1_760_950_800_000_000  # 2025-10-20T09:00:00Z

PHONE: dict[str, Any] = {
    "destination_class": "DESTINATION_CLASS_PORTABLE_DEVICE",
    "destination_kind": "mtp",
    "identity": {"label": "samsung SM-S948U", "bus": "usb", "serial_hmac": "", "removable_flag": True},
    "reason": "no-file-system",
    "attached": True,
}


def test_the_event_becomes_an_alert_naming_the_model_and_the_class() -> None:
    stored = StoredEvent("dev-a", "00000000-0000-0000-0000-000000000001", 1, "uninspectable_destination", US,
                         US + 5, "1.0", body("uninspectable_destination", PHONE))
    alert = alert_from_event(stored)
    assert alert is not None and alert.kind is AlertKind.UNINSPECTABLE_DESTINATION
    assert alert.destination_class is DestinationClass.PORTABLE_DEVICE and alert.destination_kind == "mtp"
    assert alert.volume is not None and alert.volume.label == "samsung SM-S948U" and alert.device_attached is True
    assert ALERT_KIND_TEXT[alert.kind] and DESTINATION_TEXT[alert.destination_class]


def test_attach_and_detach_of_one_phone_are_one_incident_without_a_breach_draft(world: World) -> None:
    laptop = world.device("laptop-1")
    world.emit(laptop, "uninspectable_destination", PHONE)
    world.clock.advance(minutes=10)
    world.emit(laptop, "uninspectable_destination", {**PHONE, "attached": False})
    world.service.catch_up()
    [record] = world.store.list_incidents()
    assert [a.device_attached for a in record.incident.alerts] == [True, False]
    assert {a.kind for a in record.incident.alerts} == {AlertKind.UNINSPECTABLE_DESTINATION}
    assert record.draft is None  # nothing is known to have been copied: IG decides
