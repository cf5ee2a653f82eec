"""The domain's copies of agent events must keep every field of the wire contract.

The domain never imports generated code; only this test does, to catch a field added to
events.proto that the codec could not carry into an Alert.
"""

from __future__ import annotations

import dataclasses

import pytest

from caseguard.v1 import events_pb2
from collector.domain.event_facts import (
    Arrival,
    CaseFileEgressFacts,
    CaseFilesFoundFacts,
    DestinationClass,
    DevicePosture,
    EncryptionState,
    FileMatchFacts,
    LockFailedFacts,
    LostDeviceFacts,
    UninspectableDestinationFacts,
    VolumeFacts,
)

# proto field -> domain field where the names differ (was_locked + was_locked_known become one Optional).
RENAMED = {
    ("LostDeviceReport", "was_locked_known"): "was_locked",
    ("UninspectableDestination", "identity"): "device",  # "device" in an event listing is the laptop
}


@pytest.mark.parametrize(
    ("message", "facts"),
    [
        ("CaseFileMatch", FileMatchFacts),
        ("VolumeIdentity", VolumeFacts),
        ("CaseFileEgress", CaseFileEgressFacts),
        ("CaseFilesFoundOnVolume", CaseFilesFoundFacts),
        ("LockFailed", LockFailedFacts),
        ("LostDeviceReport", LostDeviceFacts),
        ("PostureSummary", DevicePosture),
        ("UninspectableDestination", UninspectableDestinationFacts),
    ],
)
def test_every_proto_field_has_a_home(message, facts):
    ours = {f.name for f in dataclasses.fields(facts)}
    for field in getattr(events_pb2, message).DESCRIPTOR.fields:
        assert RENAMED.get((message, field.name), field.name) in ours, f"{message}.{field.name} has no domain field"


@pytest.mark.parametrize(
    ("proto_enum", "prefix", "domain_enum"),
    [
        (events_pb2.DestinationClass, "DESTINATION_CLASS_", DestinationClass),
        (events_pb2.Arrival, "ARRIVAL_", Arrival),
        (events_pb2.EncryptionState, "ENCRYPTION_STATE_", EncryptionState),
    ],
)
def test_every_proto_enum_value_maps_by_its_lower_case_suffix(proto_enum, prefix, domain_enum):
    for value in proto_enum.DESCRIPTOR.values:
        assert domain_enum(value.name.removeprefix(prefix).lower())
