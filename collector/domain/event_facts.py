"""Plain, immutable copies of the agent events that can raise an alert.

The collector's codec (``collector/api``) turns each protobuf message in
``protos/caseguard/v1/events.proto`` into the matching class here, field for field, so the
domain never imports generated code. Fields marked "personal" may hold personal data
(file names, free text, people's identities): they are kept for IG officers and never
copied into an ICO report draft or the breach register.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from collector.domain.instants import require_optional_utc, require_utc


class DestinationClass(enum.StrEnum):
    """Where a case file went (``caseguard.v1.DestinationClass``)."""

    UNSPECIFIED = "unspecified"
    REMOVABLE_VOLUME = "removable_volume"
    PERSONAL_CLOUD = "personal_cloud"
    PERSONAL_FOLDER = "personal_folder"
    PORTABLE_DEVICE = "portable_device"


class Arrival(enum.StrEnum):
    """How a file came to be judged at a destination (``caseguard.v1.Arrival``)."""

    UNSPECIFIED = "unspecified"
    CLOSED_AFTER_WRITE = "closed_after_write"
    MOVED_IN = "moved_in"
    QUIET = "quiet"
    RESCAN = "rescan"


class EncryptionState(enum.StrEnum):
    """Disk encryption as the agent saw it (``caseguard.v1.EncryptionState``); UNSPECIFIED means not known."""

    UNSPECIFIED = "unspecified"  # not known
    ENCRYPTED = "encrypted"
    NOT_ENCRYPTED = "not_encrypted"
    PARTIAL = "partial"


def _counts(value: Mapping[str, int] | tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), int(v)) for k, v in items))


@dataclass(frozen=True)
class EventEnvelope:
    """The envelope of one agent event plus when the collector received it."""

    event_id: str
    seq: int
    device_id: str
    occurred_at: datetime
    received_at: datetime
    agent_version: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "occurred_at", require_utc(self.occurred_at, "occurred_at"))
        object.__setattr__(self, "received_at", require_utc(self.received_at, "received_at"))


@dataclass(frozen=True)
class VolumeFacts:
    """A removable volume (``VolumeIdentity``). ``label`` and ``mount_point`` are personal."""

    label: str = ""
    filesystem: str = ""
    size_bytes: int = 0
    bus: str = ""
    serial_hmac: str = ""
    removable_flag: bool = False
    mount_point: str = ""


@dataclass(frozen=True)
class FileMatchFacts:
    """One file judged to be a case file (``CaseFileMatch``). ``file_name``/``relative_path`` are personal.

    ``identifier_counts`` may be given as a mapping; it is stored as sorted (name, count) pairs.
    """

    extension: str = ""
    size_bytes: int = 0
    sha256_hmac: str = ""
    reasons: tuple[str, ...] = ()
    confidence: float = 0.0
    identifier_counts: tuple[tuple[str, int], ...] = ()
    labels: tuple[str, ...] = ()
    markings: tuple[str, ...] = ()
    protected_ref: str = ""
    error: str = ""
    file_name: str = ""
    relative_path: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "identifier_counts", _counts(self.identifier_counts))
        object.__setattr__(self, "reasons", tuple(self.reasons))
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "markings", tuple(self.markings))


@dataclass(frozen=True)
class CaseFileEgressFacts:
    """A case file arrived at a destination outside the organisation's control (``CaseFileEgress``)."""

    destination_class: DestinationClass
    destination_kind: str
    file: FileMatchFacts
    volume: VolumeFacts | None = None
    copy_burst_id: str = ""
    arrival: Arrival = Arrival.UNSPECIFIED


@dataclass(frozen=True)
class UninspectableFileFacts:
    """A file that could not be judged arrived at a destination (``UninspectableFile``).

    ``file`` carries its extension, size and keyed hash, with ``error`` set to why it could not be read
    ("encrypted", "unsupported-format", "too-large", ...) and no reasons: nothing is known of its contents.
    """

    destination_class: DestinationClass
    destination_kind: str
    file: FileMatchFacts
    volume: VolumeFacts | None = None
    copy_burst_id: str = ""
    arrival: Arrival = Arrival.UNSPECIFIED


@dataclass(frozen=True)
class UninspectableDestinationFacts:
    """A phone or camera the agent can see but not inspect was attached or detached (``UninspectableDestination``).

    ``device`` carries its model (as ``label``), bus and keyed serial hash; nothing copied to it was judged.
    """

    destination_class: DestinationClass
    destination_kind: str
    device: VolumeFacts
    reason: str = ""
    attached: bool = True


@dataclass(frozen=True)
class CaseFilesFoundFacts:
    """A scan of a mounted volume found case files on it (``CaseFilesFoundOnVolume``)."""

    volume: VolumeFacts
    files: tuple[FileMatchFacts, ...]
    files_scanned: int = 0
    truncated: bool = False
    scan_id: str = ""


@dataclass(frozen=True)
class LockFailedFacts:
    """The agent could not lock an idle session (``LockFailed``). ``reason`` is free text."""

    idle_seconds: float
    methods_tried: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class LostDeviceFacts:
    """A staff member reported a device lost or stolen (``LostDeviceReport``).

    ``device_name``, ``circumstances``, ``contents_note`` and ``reported_by`` are personal.
    ``was_locked`` is None when the reporter did not know.
    """

    device_name: str = ""
    lost_at: datetime | None = None
    circumstances: str = ""
    was_locked: bool | None = None
    contents_note: str = ""
    reported_by: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "lost_at", require_optional_utc(self.lost_at, "lost_at"))


@dataclass(frozen=True)
class SeqRange:
    """An inclusive range of per-device event sequence numbers."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if self.first < 1 or self.last < self.first:
            raise ValueError(f"bad sequence range {self.first}..{self.last}")

    def __len__(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class DevicePosture:
    """A device's last known protection (from ``PostureSummary``/``LockPosture``), as of ``observed_at``.

    ``os_lock_timeout_s`` is None when unknown and 0 when the OS never locks;
    ``password_on_wake`` and ``protected_documents_indexed`` are None when unknown.
    """

    observed_at: datetime
    encryption: EncryptionState = EncryptionState.UNSPECIFIED
    encryption_method: str = ""
    lock_enforced_by_agent: bool = False
    os_lock_timeout_s: int | None = None
    password_on_wake: bool | None = None
    protected_documents_indexed: int | None = None
    policy_version: str = ""
    last_lock_at: datetime | None = None
    findings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "observed_at", require_utc(self.observed_at, "observed_at"))
        object.__setattr__(self, "last_lock_at", require_optional_utc(self.last_lock_at, "last_lock_at"))
