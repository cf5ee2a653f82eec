import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DestinationClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DESTINATION_CLASS_UNSPECIFIED: _ClassVar[DestinationClass]
    DESTINATION_CLASS_REMOVABLE_VOLUME: _ClassVar[DestinationClass]
    DESTINATION_CLASS_PERSONAL_CLOUD: _ClassVar[DestinationClass]
    DESTINATION_CLASS_PERSONAL_FOLDER: _ClassVar[DestinationClass]
    DESTINATION_CLASS_PORTABLE_DEVICE: _ClassVar[DestinationClass]

class Arrival(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ARRIVAL_UNSPECIFIED: _ClassVar[Arrival]
    ARRIVAL_CLOSED_AFTER_WRITE: _ClassVar[Arrival]
    ARRIVAL_MOVED_IN: _ClassVar[Arrival]
    ARRIVAL_QUIET: _ClassVar[Arrival]
    ARRIVAL_RESCAN: _ClassVar[Arrival]

class EncryptionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENCRYPTION_STATE_UNSPECIFIED: _ClassVar[EncryptionState]
    ENCRYPTION_STATE_ENCRYPTED: _ClassVar[EncryptionState]
    ENCRYPTION_STATE_NOT_ENCRYPTED: _ClassVar[EncryptionState]
    ENCRYPTION_STATE_PARTIAL: _ClassVar[EncryptionState]
DESTINATION_CLASS_UNSPECIFIED: DestinationClass
DESTINATION_CLASS_REMOVABLE_VOLUME: DestinationClass
DESTINATION_CLASS_PERSONAL_CLOUD: DestinationClass
DESTINATION_CLASS_PERSONAL_FOLDER: DestinationClass
DESTINATION_CLASS_PORTABLE_DEVICE: DestinationClass
ARRIVAL_UNSPECIFIED: Arrival
ARRIVAL_CLOSED_AFTER_WRITE: Arrival
ARRIVAL_MOVED_IN: Arrival
ARRIVAL_QUIET: Arrival
ARRIVAL_RESCAN: Arrival
ENCRYPTION_STATE_UNSPECIFIED: EncryptionState
ENCRYPTION_STATE_ENCRYPTED: EncryptionState
ENCRYPTION_STATE_NOT_ENCRYPTED: EncryptionState
ENCRYPTION_STATE_PARTIAL: EncryptionState

class VolumeIdentity(_message.Message):
    __slots__ = ("label", "filesystem", "size_bytes", "bus", "serial_hmac", "removable_flag", "mount_point")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    FILESYSTEM_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BUS_FIELD_NUMBER: _ClassVar[int]
    SERIAL_HMAC_FIELD_NUMBER: _ClassVar[int]
    REMOVABLE_FLAG_FIELD_NUMBER: _ClassVar[int]
    MOUNT_POINT_FIELD_NUMBER: _ClassVar[int]
    label: str
    filesystem: str
    size_bytes: int
    bus: str
    serial_hmac: str
    removable_flag: bool
    mount_point: str
    def __init__(self, label: _Optional[str] = ..., filesystem: _Optional[str] = ..., size_bytes: _Optional[int] = ..., bus: _Optional[str] = ..., serial_hmac: _Optional[str] = ..., removable_flag: _Optional[bool] = ..., mount_point: _Optional[str] = ...) -> None: ...

class CaseFileMatch(_message.Message):
    __slots__ = ("extension", "size_bytes", "sha256_hmac", "reasons", "confidence", "identifier_counts", "labels", "markings", "protected_ref", "error", "file_name", "relative_path")
    class IdentifierCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    EXTENSION_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_HMAC_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_COUNTS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MARKINGS_FIELD_NUMBER: _ClassVar[int]
    PROTECTED_REF_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_PATH_FIELD_NUMBER: _ClassVar[int]
    extension: str
    size_bytes: int
    sha256_hmac: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    confidence: float
    identifier_counts: _containers.ScalarMap[str, int]
    labels: _containers.RepeatedScalarFieldContainer[str]
    markings: _containers.RepeatedScalarFieldContainer[str]
    protected_ref: str
    error: str
    file_name: str
    relative_path: str
    def __init__(self, extension: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256_hmac: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ..., confidence: _Optional[float] = ..., identifier_counts: _Optional[_Mapping[str, int]] = ..., labels: _Optional[_Iterable[str]] = ..., markings: _Optional[_Iterable[str]] = ..., protected_ref: _Optional[str] = ..., error: _Optional[str] = ..., file_name: _Optional[str] = ..., relative_path: _Optional[str] = ...) -> None: ...

class CaseFileEgress(_message.Message):
    __slots__ = ("destination_class", "destination_kind", "volume", "copy_burst_id", "arrival", "file")
    DESTINATION_CLASS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_KIND_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    COPY_BURST_ID_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    destination_class: DestinationClass
    destination_kind: str
    volume: VolumeIdentity
    copy_burst_id: str
    arrival: Arrival
    file: CaseFileMatch
    def __init__(self, destination_class: _Optional[_Union[DestinationClass, str]] = ..., destination_kind: _Optional[str] = ..., volume: _Optional[_Union[VolumeIdentity, _Mapping]] = ..., copy_burst_id: _Optional[str] = ..., arrival: _Optional[_Union[Arrival, str]] = ..., file: _Optional[_Union[CaseFileMatch, _Mapping]] = ...) -> None: ...

class UninspectableFile(_message.Message):
    __slots__ = ("destination_class", "destination_kind", "volume", "copy_burst_id", "arrival", "extension", "size_bytes", "reason", "sha256_hmac", "file_name", "relative_path")
    DESTINATION_CLASS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_KIND_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    COPY_BURST_ID_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SHA256_HMAC_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_PATH_FIELD_NUMBER: _ClassVar[int]
    destination_class: DestinationClass
    destination_kind: str
    volume: VolumeIdentity
    copy_burst_id: str
    arrival: Arrival
    extension: str
    size_bytes: int
    reason: str
    sha256_hmac: str
    file_name: str
    relative_path: str
    def __init__(self, destination_class: _Optional[_Union[DestinationClass, str]] = ..., destination_kind: _Optional[str] = ..., volume: _Optional[_Union[VolumeIdentity, _Mapping]] = ..., copy_burst_id: _Optional[str] = ..., arrival: _Optional[_Union[Arrival, str]] = ..., extension: _Optional[str] = ..., size_bytes: _Optional[int] = ..., reason: _Optional[str] = ..., sha256_hmac: _Optional[str] = ..., file_name: _Optional[str] = ..., relative_path: _Optional[str] = ...) -> None: ...

class UninspectableDestination(_message.Message):
    __slots__ = ("destination_class", "destination_kind", "identity", "reason", "attached")
    DESTINATION_CLASS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_KIND_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTACHED_FIELD_NUMBER: _ClassVar[int]
    destination_class: DestinationClass
    destination_kind: str
    identity: VolumeIdentity
    reason: str
    attached: bool
    def __init__(self, destination_class: _Optional[_Union[DestinationClass, str]] = ..., destination_kind: _Optional[str] = ..., identity: _Optional[_Union[VolumeIdentity, _Mapping]] = ..., reason: _Optional[str] = ..., attached: _Optional[bool] = ...) -> None: ...

class CaseFilesFoundOnVolume(_message.Message):
    __slots__ = ("volume", "files", "files_scanned", "truncated", "scan_id")
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    FILES_SCANNED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    volume: VolumeIdentity
    files: _containers.RepeatedCompositeFieldContainer[CaseFileMatch]
    files_scanned: int
    truncated: bool
    scan_id: str
    def __init__(self, volume: _Optional[_Union[VolumeIdentity, _Mapping]] = ..., files: _Optional[_Iterable[_Union[CaseFileMatch, _Mapping]]] = ..., files_scanned: _Optional[int] = ..., truncated: _Optional[bool] = ..., scan_id: _Optional[str] = ...) -> None: ...

class VolumeMounted(_message.Message):
    __slots__ = ("volume",)
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    volume: VolumeIdentity
    def __init__(self, volume: _Optional[_Union[VolumeIdentity, _Mapping]] = ...) -> None: ...

class VolumeUnmounted(_message.Message):
    __slots__ = ("volume",)
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    volume: VolumeIdentity
    def __init__(self, volume: _Optional[_Union[VolumeIdentity, _Mapping]] = ...) -> None: ...

class LockEnforced(_message.Message):
    __slots__ = ("idle_seconds", "method", "idle_timeout_s", "lateness_s", "trigger")
    IDLE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    LATENESS_S_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    idle_seconds: float
    method: str
    idle_timeout_s: int
    lateness_s: float
    trigger: str
    def __init__(self, idle_seconds: _Optional[float] = ..., method: _Optional[str] = ..., idle_timeout_s: _Optional[int] = ..., lateness_s: _Optional[float] = ..., trigger: _Optional[str] = ...) -> None: ...

class LockFailed(_message.Message):
    __slots__ = ("idle_seconds", "methods_tried", "reason")
    IDLE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    METHODS_TRIED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    idle_seconds: float
    methods_tried: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, idle_seconds: _Optional[float] = ..., methods_tried: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class LockPosture(_message.Message):
    __slots__ = ("os_lock_timeout_s", "os_lock_timeout_known", "password_on_wake", "password_on_wake_known", "source", "policy_idle_timeout_s", "weaker_than_policy", "findings", "enforced_by_agent", "inhibitors")
    OS_LOCK_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    OS_LOCK_TIMEOUT_KNOWN_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_ON_WAKE_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_ON_WAKE_KNOWN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    POLICY_IDLE_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    WEAKER_THAN_POLICY_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    ENFORCED_BY_AGENT_FIELD_NUMBER: _ClassVar[int]
    INHIBITORS_FIELD_NUMBER: _ClassVar[int]
    os_lock_timeout_s: int
    os_lock_timeout_known: bool
    password_on_wake: bool
    password_on_wake_known: bool
    source: str
    policy_idle_timeout_s: int
    weaker_than_policy: bool
    findings: _containers.RepeatedScalarFieldContainer[str]
    enforced_by_agent: bool
    inhibitors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, os_lock_timeout_s: _Optional[int] = ..., os_lock_timeout_known: _Optional[bool] = ..., password_on_wake: _Optional[bool] = ..., password_on_wake_known: _Optional[bool] = ..., source: _Optional[str] = ..., policy_idle_timeout_s: _Optional[int] = ..., weaker_than_policy: _Optional[bool] = ..., findings: _Optional[_Iterable[str]] = ..., enforced_by_agent: _Optional[bool] = ..., inhibitors: _Optional[_Iterable[str]] = ...) -> None: ...

class EncryptionPosture(_message.Message):
    __slots__ = ("system_volume", "home_volume", "method", "details")
    SYSTEM_VOLUME_FIELD_NUMBER: _ClassVar[int]
    HOME_VOLUME_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    system_volume: EncryptionState
    home_volume: EncryptionState
    method: str
    details: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, system_volume: _Optional[_Union[EncryptionState, str]] = ..., home_volume: _Optional[_Union[EncryptionState, str]] = ..., method: _Optional[str] = ..., details: _Optional[_Iterable[str]] = ...) -> None: ...

class LostDeviceReport(_message.Message):
    __slots__ = ("device_name", "lost_at", "circumstances", "was_locked", "was_locked_known", "contents_note", "reported_by")
    DEVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    LOST_AT_FIELD_NUMBER: _ClassVar[int]
    CIRCUMSTANCES_FIELD_NUMBER: _ClassVar[int]
    WAS_LOCKED_FIELD_NUMBER: _ClassVar[int]
    WAS_LOCKED_KNOWN_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_NOTE_FIELD_NUMBER: _ClassVar[int]
    REPORTED_BY_FIELD_NUMBER: _ClassVar[int]
    device_name: str
    lost_at: _timestamp_pb2.Timestamp
    circumstances: str
    was_locked: bool
    was_locked_known: bool
    contents_note: str
    reported_by: str
    def __init__(self, device_name: _Optional[str] = ..., lost_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., circumstances: _Optional[str] = ..., was_locked: _Optional[bool] = ..., was_locked_known: _Optional[bool] = ..., contents_note: _Optional[str] = ..., reported_by: _Optional[str] = ...) -> None: ...

class AgentStarted(_message.Message):
    __slots__ = ("os", "os_version", "policy_version", "components")
    OS_FIELD_NUMBER: _ClassVar[int]
    OS_VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    os: str
    os_version: str
    policy_version: str
    components: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, os: _Optional[str] = ..., os_version: _Optional[str] = ..., policy_version: _Optional[str] = ..., components: _Optional[_Iterable[str]] = ...) -> None: ...

class AgentStopping(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class CoverageDegraded(_message.Message):
    __slots__ = ("component", "reason", "recovered", "scope", "count")
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    component: str
    reason: str
    recovered: bool
    scope: str
    count: int
    def __init__(self, component: _Optional[str] = ..., reason: _Optional[str] = ..., recovered: _Optional[bool] = ..., scope: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class PostureSummary(_message.Message):
    __slots__ = ("encryption", "lock_enforced_by_agent", "os_lock_timeout_s", "password_on_wake", "policy_version", "protected_documents_indexed", "last_lock_at")
    ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    LOCK_ENFORCED_BY_AGENT_FIELD_NUMBER: _ClassVar[int]
    OS_LOCK_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_ON_WAKE_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTECTED_DOCUMENTS_INDEXED_FIELD_NUMBER: _ClassVar[int]
    LAST_LOCK_AT_FIELD_NUMBER: _ClassVar[int]
    encryption: EncryptionState
    lock_enforced_by_agent: bool
    os_lock_timeout_s: int
    password_on_wake: bool
    policy_version: str
    protected_documents_indexed: int
    last_lock_at: _timestamp_pb2.Timestamp
    def __init__(self, encryption: _Optional[_Union[EncryptionState, str]] = ..., lock_enforced_by_agent: _Optional[bool] = ..., os_lock_timeout_s: _Optional[int] = ..., password_on_wake: _Optional[bool] = ..., policy_version: _Optional[str] = ..., protected_documents_indexed: _Optional[int] = ..., last_lock_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("posture", "outbox_depth", "interval_s")
    POSTURE_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    posture: PostureSummary
    outbox_depth: int
    interval_s: int
    def __init__(self, posture: _Optional[_Union[PostureSummary, _Mapping]] = ..., outbox_depth: _Optional[int] = ..., interval_s: _Optional[int] = ...) -> None: ...

class SeqRange(_message.Message):
    __slots__ = ("first", "last")
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    first: int
    last: int
    def __init__(self, first: _Optional[int] = ..., last: _Optional[int] = ...) -> None: ...

class EventsShed(_message.Message):
    __slots__ = ("counts_by_kind", "seq_ranges", "total")
    class CountsByKindEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    COUNTS_BY_KIND_FIELD_NUMBER: _ClassVar[int]
    SEQ_RANGES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    counts_by_kind: _containers.ScalarMap[str, int]
    seq_ranges: _containers.RepeatedCompositeFieldContainer[SeqRange]
    total: int
    def __init__(self, counts_by_kind: _Optional[_Mapping[str, int]] = ..., seq_ranges: _Optional[_Iterable[_Union[SeqRange, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class PolicyApplied(_message.Message):
    __slots__ = ("version", "tightened_locally", "error")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TIGHTENED_LOCALLY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    version: int
    tightened_locally: _containers.RepeatedScalarFieldContainer[str]
    error: str
    def __init__(self, version: _Optional[int] = ..., tightened_locally: _Optional[_Iterable[str]] = ..., error: _Optional[str] = ...) -> None: ...

class TestEvent(_message.Message):
    __slots__ = ("index", "note")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    index: int
    note: str
    def __init__(self, index: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("event_id", "seq", "occurred_at", "agent_version", "device_id", "outbox_epoch", "case_file_egress", "case_files_found", "volume_mounted", "volume_unmounted", "lock_enforced", "lock_failed", "lock_posture", "encryption_posture", "lost_device_report", "agent_started", "agent_stopping", "coverage_degraded", "heartbeat", "events_shed", "test", "policy_applied", "uninspectable_file", "uninspectable_destination")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_EPOCH_FIELD_NUMBER: _ClassVar[int]
    CASE_FILE_EGRESS_FIELD_NUMBER: _ClassVar[int]
    CASE_FILES_FOUND_FIELD_NUMBER: _ClassVar[int]
    VOLUME_MOUNTED_FIELD_NUMBER: _ClassVar[int]
    VOLUME_UNMOUNTED_FIELD_NUMBER: _ClassVar[int]
    LOCK_ENFORCED_FIELD_NUMBER: _ClassVar[int]
    LOCK_FAILED_FIELD_NUMBER: _ClassVar[int]
    LOCK_POSTURE_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_POSTURE_FIELD_NUMBER: _ClassVar[int]
    LOST_DEVICE_REPORT_FIELD_NUMBER: _ClassVar[int]
    AGENT_STARTED_FIELD_NUMBER: _ClassVar[int]
    AGENT_STOPPING_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_DEGRADED_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_SHED_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    POLICY_APPLIED_FIELD_NUMBER: _ClassVar[int]
    UNINSPECTABLE_FILE_FIELD_NUMBER: _ClassVar[int]
    UNINSPECTABLE_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    seq: int
    occurred_at: _timestamp_pb2.Timestamp
    agent_version: str
    device_id: str
    outbox_epoch: str
    case_file_egress: CaseFileEgress
    case_files_found: CaseFilesFoundOnVolume
    volume_mounted: VolumeMounted
    volume_unmounted: VolumeUnmounted
    lock_enforced: LockEnforced
    lock_failed: LockFailed
    lock_posture: LockPosture
    encryption_posture: EncryptionPosture
    lost_device_report: LostDeviceReport
    agent_started: AgentStarted
    agent_stopping: AgentStopping
    coverage_degraded: CoverageDegraded
    heartbeat: Heartbeat
    events_shed: EventsShed
    test: TestEvent
    policy_applied: PolicyApplied
    uninspectable_file: UninspectableFile
    uninspectable_destination: UninspectableDestination
    def __init__(self, event_id: _Optional[str] = ..., seq: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., agent_version: _Optional[str] = ..., device_id: _Optional[str] = ..., outbox_epoch: _Optional[str] = ..., case_file_egress: _Optional[_Union[CaseFileEgress, _Mapping]] = ..., case_files_found: _Optional[_Union[CaseFilesFoundOnVolume, _Mapping]] = ..., volume_mounted: _Optional[_Union[VolumeMounted, _Mapping]] = ..., volume_unmounted: _Optional[_Union[VolumeUnmounted, _Mapping]] = ..., lock_enforced: _Optional[_Union[LockEnforced, _Mapping]] = ..., lock_failed: _Optional[_Union[LockFailed, _Mapping]] = ..., lock_posture: _Optional[_Union[LockPosture, _Mapping]] = ..., encryption_posture: _Optional[_Union[EncryptionPosture, _Mapping]] = ..., lost_device_report: _Optional[_Union[LostDeviceReport, _Mapping]] = ..., agent_started: _Optional[_Union[AgentStarted, _Mapping]] = ..., agent_stopping: _Optional[_Union[AgentStopping, _Mapping]] = ..., coverage_degraded: _Optional[_Union[CoverageDegraded, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., events_shed: _Optional[_Union[EventsShed, _Mapping]] = ..., test: _Optional[_Union[TestEvent, _Mapping]] = ..., policy_applied: _Optional[_Union[PolicyApplied, _Mapping]] = ..., uninspectable_file: _Optional[_Union[UninspectableFile, _Mapping]] = ..., uninspectable_destination: _Optional[_Union[UninspectableDestination, _Mapping]] = ...) -> None: ...
