"""Stored agent events -> the breach domain's facts and alerts (the wire side of the workflow).

Besides ``codec``, the only collector module that reads protobuf. Enum values map by
their lower-case suffix (``DESTINATION_CLASS_PERSONAL_CLOUD`` -> ``personal_cloud``), so a
value added to events.proto fails the wire-coverage test instead of being misread here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf.message import DecodeError

from caseguard.v1 import events_pb2
from collector.domain.alerts import AgentEventFacts, Alert, alert_from_agent_event, alert_from_lost_device_report
from collector.domain.event_facts import (
    Arrival,
    CaseFileEgressFacts,
    CaseFilesFoundFacts,
    DestinationClass,
    DevicePosture,
    EncryptionState,
    EventEnvelope,
    FileMatchFacts,
    LockFailedFacts,
    LostDeviceFacts,
    UninspectableDestinationFacts,
    UninspectableFileFacts,
    VolumeFacts,
)
from collector.errors import CollectorError
from collector.store.base import StoredEvent

ALERT_KINDS: tuple[str, ...] = (
    "case_file_egress", "case_files_found", "lock_failed", "lost_device_report", "uninspectable_file",
    "uninspectable_destination",
)
POSTURE_KINDS: tuple[str, ...] = ("encryption_posture", "lock_posture", "heartbeat")

E = TypeVar("E", bound=enum.Enum)


class EventDecodeError(CollectorError, ValueError):
    """A stored event's body cannot be read as its kind."""


def _enum_table(proto_enum: Any, prefix: str, domain: type[E]) -> dict[int, E]:
    return {v.number: domain(v.name.removeprefix(prefix).lower()) for v in proto_enum.DESCRIPTOR.values}


_DESTINATIONS = _enum_table(events_pb2.DestinationClass, "DESTINATION_CLASS_", DestinationClass)
_ARRIVALS = _enum_table(events_pb2.Arrival, "ARRIVAL_", Arrival)
_ENCRYPTION = _enum_table(events_pb2.EncryptionState, "ENCRYPTION_STATE_", EncryptionState)


def _utc(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def _timestamp(ts: Any) -> datetime:
    return datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, UTC)


def _parse(kind: str, body: bytes, cls: type[Any]) -> Any:
    try:
        return cls.FromString(body)
    except DecodeError as exc:
        raise EventDecodeError(f"a {kind} event body is corrupt") from exc


def envelope_of(event: StoredEvent) -> EventEnvelope:
    """The domain envelope of a stored event."""
    return EventEnvelope(
        event.event_id, event.seq, event.device, _utc(event.occurred_at_us), _utc(event.received_at_us),
        event.agent_version,
    )  # fmt: skip


def _volume(msg: Any) -> VolumeFacts:
    return VolumeFacts(
        label=msg.label, filesystem=msg.filesystem, size_bytes=msg.size_bytes, bus=msg.bus,
        serial_hmac=msg.serial_hmac, removable_flag=msg.removable_flag, mount_point=msg.mount_point,
    )  # fmt: skip


def _file(msg: Any) -> FileMatchFacts:
    return FileMatchFacts(
        extension=msg.extension, size_bytes=msg.size_bytes, sha256_hmac=msg.sha256_hmac, reasons=tuple(msg.reasons),
        confidence=msg.confidence, identifier_counts=tuple(dict(msg.identifier_counts).items()),
        labels=tuple(msg.labels), markings=tuple(msg.markings), protected_ref=msg.protected_ref, error=msg.error,
        file_name=msg.file_name, relative_path=msg.relative_path,
    )  # fmt: skip


def lost_device_facts(body: bytes) -> LostDeviceFacts:
    """A ``LostDeviceReport`` body as domain facts (``was_locked`` None when not known)."""
    msg = _parse("lost_device_report", body, events_pb2.LostDeviceReport)
    return LostDeviceFacts(
        device_name=msg.device_name,
        lost_at=_timestamp(msg.lost_at) if msg.HasField("lost_at") else None,
        circumstances=msg.circumstances,
        was_locked=msg.was_locked if msg.was_locked_known else None,
        contents_note=msg.contents_note,
        reported_by=msg.reported_by,
    )


def lockdown_method(event: StoredEvent) -> str:
    """For a ``lock_enforced`` event that confirms a lost device's lockdown, how it locked; else ""."""
    if event.kind != "lock_enforced":
        return ""
    msg = _parse(event.kind, event.body, events_pb2.LockEnforced)
    return (msg.method or "lock") if msg.trigger == "lost_device" else ""


def alert_from_event(event: StoredEvent) -> Alert | None:
    """The alert a stored event raises, or None for kinds that raise none.

    A lost-device report is stored under the lost device (see ``CollectorServicer``), so
    the event's device is the lost one; the reporter is in the body's ``reported_by``.
    """
    if event.kind == "lost_device_report":
        report = lost_device_facts(event.body)
        return alert_from_lost_device_report(
            report,
            lost_device_id=event.device,
            report_id=event.event_id,
            received_at=_utc(event.received_at_us),
            reporter_device_id=report.reported_by,
        )
    if event.kind == "case_file_egress":
        egress = _parse(event.kind, event.body, events_pb2.CaseFileEgress)
        facts: AgentEventFacts = CaseFileEgressFacts(
            destination_class=_DESTINATIONS.get(egress.destination_class, DestinationClass.UNSPECIFIED),
            destination_kind=egress.destination_kind,
            file=_file(egress.file),
            volume=_volume(egress.volume) if egress.HasField("volume") else None,
            copy_burst_id=egress.copy_burst_id,
            arrival=_ARRIVALS.get(egress.arrival, Arrival.UNSPECIFIED),
        )
    elif event.kind == "case_files_found":
        found = _parse(event.kind, event.body, events_pb2.CaseFilesFoundOnVolume)
        facts = CaseFilesFoundFacts(
            volume=_volume(found.volume), files=tuple(_file(f) for f in found.files),
            files_scanned=found.files_scanned, truncated=found.truncated, scan_id=found.scan_id,
        )  # fmt: skip
    elif event.kind == "uninspectable_file":
        odd = _parse(event.kind, event.body, events_pb2.UninspectableFile)
        facts = UninspectableFileFacts(
            destination_class=_DESTINATIONS.get(odd.destination_class, DestinationClass.UNSPECIFIED),
            destination_kind=odd.destination_kind,
            file=FileMatchFacts(
                extension=odd.extension, size_bytes=odd.size_bytes, sha256_hmac=odd.sha256_hmac, error=odd.reason,
                file_name=odd.file_name, relative_path=odd.relative_path,
            ),
            volume=_volume(odd.volume) if odd.HasField("volume") else None,
            copy_burst_id=odd.copy_burst_id,
            arrival=_ARRIVALS.get(odd.arrival, Arrival.UNSPECIFIED),
        )
    elif event.kind == "uninspectable_destination":
        seen = _parse(event.kind, event.body, events_pb2.UninspectableDestination)
        facts = UninspectableDestinationFacts(
            destination_class=_DESTINATIONS.get(seen.destination_class, DestinationClass.UNSPECIFIED),
            destination_kind=seen.destination_kind,
            device=_volume(seen.identity),
            reason=seen.reason,
            attached=seen.attached,
        )
    elif event.kind == "lock_failed":
        failed = _parse(event.kind, event.body, events_pb2.LockFailed)
        facts = LockFailedFacts(failed.idle_seconds, tuple(failed.methods_tried), failed.reason)
    else:
        return None
    return alert_from_agent_event(envelope_of(event), facts)


def _overall(system: EncryptionState, home: EncryptionState) -> EncryptionState:
    # The same rule as the agent's heartbeat summary: both, neither, not known, or partial.
    states = {system, home}
    if states == {EncryptionState.ENCRYPTED}:
        return EncryptionState.ENCRYPTED
    if states == {EncryptionState.NOT_ENCRYPTED}:
        return EncryptionState.NOT_ENCRYPTED
    if EncryptionState.UNSPECIFIED in states:
        return EncryptionState.UNSPECIFIED
    return EncryptionState.PARTIAL


def _summary_fields(event: StoredEvent) -> dict[str, Any] | None:
    beat = _parse("heartbeat", event.body, events_pb2.Heartbeat)
    if not beat.HasField("posture") or beat.posture.ByteSize() == 0:
        return None
    p = beat.posture
    # PostureSummary has no "known" flags: a zero timeout or a false password-on-wake says nothing.
    fields: dict[str, Any] = {
        "lock_enforced_by_agent": p.lock_enforced_by_agent,
        "policy_version": p.policy_version,
        "protected_documents_indexed": p.protected_documents_indexed,
    }
    encryption = _ENCRYPTION.get(p.encryption, EncryptionState.UNSPECIFIED)
    if encryption is not EncryptionState.UNSPECIFIED:
        fields["encryption"] = encryption
    if p.os_lock_timeout_s:
        fields["os_lock_timeout_s"] = p.os_lock_timeout_s
    if p.password_on_wake:
        fields["password_on_wake"] = True
    if p.HasField("last_lock_at"):
        fields["last_lock_at"] = _timestamp(p.last_lock_at)
    return fields


def _encryption_fields(event: StoredEvent) -> dict[str, Any]:
    enc = _parse("encryption_posture", event.body, events_pb2.EncryptionPosture)
    state = _overall(
        _ENCRYPTION.get(enc.system_volume, EncryptionState.UNSPECIFIED),
        _ENCRYPTION.get(enc.home_volume, EncryptionState.UNSPECIFIED),
    )
    return {"encryption": state, "encryption_method": enc.method}


def _lock_fields(event: StoredEvent) -> dict[str, Any]:
    lp = _parse("lock_posture", event.body, events_pb2.LockPosture)
    fields: dict[str, Any] = {"lock_enforced_by_agent": lp.enforced_by_agent, "findings": tuple(lp.findings)}
    if lp.os_lock_timeout_known:
        fields["os_lock_timeout_s"] = lp.os_lock_timeout_s
    if lp.password_on_wake_known:
        fields["password_on_wake"] = lp.password_on_wake
    return fields


_POSTURE_READERS = {
    "heartbeat": _summary_fields,
    "encryption_posture": _encryption_fields,
    "lock_posture": _lock_fields,
}


def device_posture(latest: Mapping[str, StoredEvent]) -> DevicePosture | None:
    """A device's last known posture from its newest ``encryption_posture``, ``lock_posture`` and ``heartbeat``.

    Each event sets the fields it knows, oldest first, so the newest word on each fact wins.
    The agent reports posture when it changes, so the newest of these events dates the whole
    posture. None when the device sent none of them (or only empty heartbeats).
    """
    fields: dict[str, Any] = {}
    newest: datetime | None = None
    for kind, event in sorted(latest.items(), key=lambda item: (item[1].occurred_at_us, item[0])):
        reader = _POSTURE_READERS.get(kind)
        known = reader(event) if reader else None
        if known is None:
            continue
        fields.update(known)
        newest = _utc(event.occurred_at_us)
    return None if newest is None else DevicePosture(observed_at=newest, **fields)
