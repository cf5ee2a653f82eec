"""Synthetic alerts and incidents for the domain tests. No real people, files or devices."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from collector.domain.alerts import (
    Alert,
    alert_from_case_file_egress,
    alert_from_case_files_found,
    alert_from_lock_failed,
    alert_from_lost_device_report,
)
from collector.domain.event_facts import (
    Arrival,
    CaseFileEgressFacts,
    CaseFilesFoundFacts,
    DestinationClass,
    EventEnvelope,
    FileMatchFacts,
    LockFailedFacts,
    LostDeviceFacts,
    VolumeFacts,
)
from collector.domain.incident import Incident
from collector.domain.lifecycle import open_incident

T0 = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)  # a Monday, BST
_ids = itertools.count(1)


def next_id(prefix: str = "ev") -> str:
    return f"{prefix}-{next(_ids):06d}"


def envelope(device: str = "dev-a", at: datetime = T0, received: datetime | None = None, seq: int = 1) -> EventEnvelope:
    return EventEnvelope(next_id(), seq, device, at, received or at + timedelta(seconds=5), "1.0.0")


def file_match(
    confidence: float = 0.95,
    reasons: tuple[str, ...] = ("exact",),
    file_hash: str | None = None,
    identifiers: dict[str, int] | None = None,
    markings: tuple[str, ...] = (),
    file_name: str = "",
) -> FileMatchFacts:
    return FileMatchFacts(
        extension="docx",
        size_bytes=12_345,
        sha256_hmac=file_hash if file_hash is not None else next_id("h"),
        reasons=reasons,
        confidence=confidence,
        identifier_counts=tuple((identifiers if identifiers is not None else {"nhs_number": 2}).items()),
        labels=("Confidential",),
        markings=markings,
        protected_ref=next_id("ref"),
        file_name=file_name,
    )


def volume(serial: str = "serial-hmac-1", label: str = "STICK") -> VolumeFacts:
    return VolumeFacts(label=label, filesystem="vfat", size_bytes=8 << 30, bus="usb", serial_hmac=serial)


def egress_alert(
    device: str = "dev-a",
    at: datetime = T0,
    *,
    burst: str = "",
    destination: DestinationClass = DestinationClass.REMOVABLE_VOLUME,
    kind: str = "usb",
    serial: str = "serial-hmac-1",
    received: datetime | None = None,
    **file_kwargs: object,
) -> Alert:
    vol = volume(serial) if destination is DestinationClass.REMOVABLE_VOLUME else None
    facts = CaseFileEgressFacts(
        destination_class=destination,
        destination_kind=kind,
        file=file_match(**file_kwargs),  # type: ignore[arg-type]
        volume=vol,
        copy_burst_id=burst,
        arrival=Arrival.CLOSED_AFTER_WRITE,
    )
    return alert_from_case_file_egress(envelope(device, at, received), facts)


def found_alert(device: str = "dev-a", at: datetime = T0, serial: str = "serial-hmac-1", files: int = 2) -> Alert:
    facts = CaseFilesFoundFacts(volume(serial), tuple(file_match() for _ in range(files)), files_scanned=40)
    return alert_from_case_files_found(envelope(device, at), facts)


def lock_alert(device: str = "dev-a", at: datetime = T0) -> Alert:
    return alert_from_lock_failed(envelope(device, at), LockFailedFacts(900.0, ("loginctl",), "no locker"))


def lost_alert(
    device: str = "dev-a", at: datetime = T0, was_locked: bool | None = None, received: datetime | None = None
) -> Alert:
    facts = LostDeviceFacts(
        device_name="LAPTOP-0042",
        lost_at=at,
        circumstances="Left on a train by Jane Example",
        was_locked=was_locked,
        contents_note="Case notes for the Example family",
        reported_by="jane.example@council.example",
    )
    return alert_from_lost_device_report(
        facts,
        lost_device_id=device,
        report_id=next_id("report"),
        received_at=received or at + timedelta(hours=1),
        reporter_device_id="dev-z",
    )


def new_incident(alert: Alert, incident_id: str = "inc-1", opened_at: datetime | None = None) -> Incident:
    return open_incident(incident_id, alert, opened_at or alert.received_at).incident
