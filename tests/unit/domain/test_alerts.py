from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from collector.domain.alerts import (
    AlertKind,
    alert_for_silent_device,
    alert_from_agent_event,
    alert_from_case_file_egress,
    alert_from_case_files_found,
    alert_from_lock_failed,
    alert_from_lost_device_report,
)
from collector.domain.errors import InvalidTimestamp
from collector.domain.event_facts import (
    Arrival,
    CaseFileEgressFacts,
    CaseFilesFoundFacts,
    DestinationClass,
    EventEnvelope,
    FileMatchFacts,
    LockFailedFacts,
    LostDeviceFacts,
    SeqRange,
    VolumeFacts,
)

from .builders import T0, egress_alert, envelope, file_match

# Every field filled with a distinctive value, to prove the alert keeps each one.
VOLUME = VolumeFacts("LBL-x1", "exfat-x2", 777, "usb-x3", "serial-x4", True, "/media/x5")
FILE = FileMatchFacts(
    "ext-y1", 4242, "hash-y2", ("reason-y3",), 0.42, (("ident-y4", 9),), ("label-y5",), ("mark-y6",),
    "ref-y7", "err-y8", "name-y9.docx", "path/y10",
)  # fmt: skip


def _all_leaf_values(obj: object) -> list[object]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [v for f in dataclasses.fields(obj) for v in _all_leaf_values(getattr(obj, f.name))]
    if isinstance(obj, tuple):
        return [v for item in obj for v in _all_leaf_values(item)]
    return [obj]


@pytest.mark.parametrize(
    ("make", "facts"),
    [
        (
            alert_from_case_file_egress,
            CaseFileEgressFacts(DestinationClass.PERSONAL_CLOUD, "dropbox_x", FILE, VOLUME, "burst-z", Arrival.RESCAN),
        ),
        (alert_from_case_files_found, CaseFilesFoundFacts(VOLUME, (FILE, FILE), 31337, True, "scan-z")),
        (alert_from_lock_failed, LockFailedFacts(901.5, ("method-z1", "method-z2"), "reason-z3")),
    ],
)  # fmt: skip
def test_agent_event_alert_keeps_every_field_of_envelope_and_body(make, facts):
    env = EventEnvelope("event-q1", 17, "device-q2", T0, T0 + timedelta(seconds=3), "agent-q3")
    alert = make(env, facts)
    kept = _all_leaf_values(alert)
    for value in _all_leaf_values(facts) + _all_leaf_values(env):
        assert value in kept, f"{value!r} was dropped"


def test_agent_event_dispatch_picks_the_matching_factory():
    env = envelope()
    egress = CaseFileEgressFacts(DestinationClass.PERSONAL_CLOUD, "icloud", file_match())
    found = CaseFilesFoundFacts(VolumeFacts(bus="sd"), (file_match(),))
    lock = LockFailedFacts(5.0)
    assert alert_from_agent_event(env, egress) == alert_from_case_file_egress(env, egress)
    assert alert_from_agent_event(env, found).kind is AlertKind.CASE_FILES_FOUND
    assert alert_from_agent_event(env, found).destination_kind == "sd"
    assert alert_from_agent_event(env, lock).kind is AlertKind.LOCK_FAILED


def test_lost_device_alert_keeps_every_report_field():
    report = LostDeviceFacts("LAPTOP-q1", T0, "circumstances-q2", False, "contents-q3", "reporter-q4")
    alert = alert_from_lost_device_report(
        report,
        lost_device_id="dev-lost",
        report_id="rep-1",
        received_at=T0 + timedelta(hours=2),
        reporter_device_id="dev-r",
    )
    assert alert.lost_report == report
    assert (alert.kind, alert.device_id, alert.reporter_device_id) == (AlertKind.LOST_DEVICE, "dev-lost", "dev-r")
    assert alert.occurred_at == T0  # the reported loss time, not the report time
    assert alert.received_at == T0 + timedelta(hours=2)


def test_lost_device_without_loss_time_occurs_when_received():
    alert = alert_from_lost_device_report(
        LostDeviceFacts(), lost_device_id="d", report_id="r", received_at=T0 + timedelta(hours=1)
    )
    assert alert.occurred_at == T0 + timedelta(hours=1)


def test_summary_properties_aggregate_over_files():
    a = file_match(
        confidence=0.5, reasons=("content",), identifiers={"nhs_number": 2, "ni_number": 1}, markings=("OFFICIAL",)
    )
    b = file_match(confidence=0.97, reasons=("exact", "content"), identifiers={"nhs_number": 3}, markings=("OFFICIAL",))
    alert = alert_from_case_files_found(envelope(), CaseFilesFoundFacts(VolumeFacts(serial_hmac="s"), (a, b)))
    assert alert.confidence == 0.97
    assert alert.reasons == ("content", "exact")
    assert alert.identifier_counts == {"ni_number": 1, "nhs_number": 5}
    assert alert.markings == ("OFFICIAL",)
    assert alert.labels == ("Confidential",)
    assert alert.protected_refs == (a.protected_ref, b.protected_ref)
    assert alert.file_hashes == (a.sha256_hmac, b.sha256_hmac)
    assert alert.volume_serial_hash == "s"
    assert alert.destination_class is DestinationClass.REMOVABLE_VOLUME


def test_alert_without_files_has_no_confidence():
    alert = alert_from_lock_failed(envelope(), LockFailedFacts(10.0))
    assert alert.confidence is None
    assert alert.identifier_counts == {}


def test_same_event_gives_same_alert_id_and_different_events_differ():
    env = envelope()
    facts = CaseFileEgressFacts(DestinationClass.REMOVABLE_VOLUME, "usb", file_match())
    assert alert_from_case_file_egress(env, facts).alert_id == alert_from_case_file_egress(env, facts).alert_id
    assert egress_alert().alert_id != egress_alert().alert_id


def test_silence_alert_id_depends_on_last_seen_not_detection_time():
    first = alert_for_silent_device("d", T0, T0 + timedelta(days=20))
    again = alert_for_silent_device("d", T0, T0 + timedelta(days=21))
    later = alert_for_silent_device("d", T0 + timedelta(days=1), T0 + timedelta(days=21))
    assert first.alert_id == again.alert_id != later.alert_id


def test_identifier_counts_are_stored_sorted():
    assert FileMatchFacts(identifier_counts=(("b", 1), ("a", 2))).identifier_counts == (("a", 2), ("b", 1))


@pytest.mark.parametrize("bad", [datetime(2025, 1, 1), datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=1)))])
def test_naive_or_non_utc_times_are_refused(bad):
    with pytest.raises(InvalidTimestamp):
        EventEnvelope("e", 1, "d", bad, T0)


def test_utc_equivalent_zones_are_normalised():
    env = EventEnvelope("e", 1, "d", T0.replace(tzinfo=timezone.utc), T0)  # noqa: UP017 - deliberately another UTC object
    assert env.occurred_at.tzinfo is UTC


def test_seq_range_rejects_empty_or_backwards():
    assert len(SeqRange(3, 5)) == 3
    with pytest.raises(ValueError):
        SeqRange(5, 3)
    with pytest.raises(ValueError):
        SeqRange(0, 3)
