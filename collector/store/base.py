"""What the collector keeps, and the interface every storage backend implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from collector.errors import CollectorError


class StoreError(CollectorError, RuntimeError):
    """Storage failed; nothing from the failed call was committed."""


class IngestTimedOut(StoreError):
    """An ingest transaction hit its statement or lock timeout; nothing was stored, retry later."""


@dataclass(frozen=True)
class IngestBounds:
    """How long one ingest transaction may wait for a lock and run one statement ([database])."""

    statement_timeout_s: float = 10.0
    lock_timeout_s: float = 10.0


class DeviceExists(StoreError):
    """A device of that name is already registered."""


class UnknownDevice(StoreError):
    """No device of that name."""


class IncomingEvent(NamedTuple):
    """A validated event from an authenticated device, ready to store.

    A NamedTuple rather than a frozen dataclass: it is built once per event on the ingest
    hot path, where a frozen dataclass's __init__ costs several times more.
    """

    event_id: str
    seq: int
    kind: str
    occurred_at_us: int
    agent_version: str
    body: bytes  # the serialised body message (caseguard.v1.<Kind>)
    shed_ranges: tuple[tuple[int, int], ...] = ()  # for events_shed: the slots the agent dropped
    outbox_epoch: str = ""  # which of the device's outboxes numbered it ("" from agents before epochs)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as kept by the collector."""

    device: str
    event_id: str
    seq: int
    kind: str
    occurred_at_us: int
    received_at_us: int
    agent_version: str
    body: bytes


@dataclass(frozen=True)
class Device:
    """An enrolled device and what the collector knows of it."""

    name: str
    enrolled_at_us: int
    revoked_at_us: int | None
    last_seen_at_us: int | None
    max_seq: int
    lost_at_us: int | None
    event_count: int = 0
    open_gaps: int = 0


@dataclass(frozen=True)
class SequenceGap:
    """Sequence numbers of a device that never arrived (explained = "shed" if the agent said so)."""

    device: str
    first_seq: int
    last_seq: int
    detected_at_us: int
    explained: str | None


@dataclass(frozen=True)
class IngestOutcome:
    """Counts from one committed group."""

    stored: int
    duplicates: int
    gaps_detected: int


class Store(Protocol):
    """Storage contract shared by every backend; see tests/contract for the suite that pins it."""

    def ingest(self, batches: Sequence[tuple[str, Sequence[IncomingEvent]]], received_at_us: int) -> IngestOutcome:
        """Store several devices' batches in one durable transaction; idempotent on (device, event_id)."""
        ...

    def register_device(self, name: str, cert_fingerprint: str, enrolled_at_us: int) -> None:
        """Enrol a device with its first certificate."""
        ...

    def add_certificate(self, name: str, cert_fingerprint: str, issued_at_us: int) -> None:
        """Attach another certificate (renewal) to an enrolled device."""
        ...

    def revoke_device(self, name: str, at_us: int) -> None:
        """Refuse the device from now on."""
        ...

    def device_for_certificate(self, cert_fingerprint: str) -> Device | None:
        """The device a certificate belongs to, or None if the certificate is not ours."""
        ...

    def get_device(self, name: str) -> Device | None:
        """One device by name."""
        ...

    def list_devices(self) -> list[Device]:
        """All devices, by name, with event and open-gap counts."""
        ...

    def touch_device(self, name: str, at_us: int) -> None:
        """Record that the device was seen."""
        ...

    def mark_lost(self, name: str, at_us: int) -> None:
        """Record that the device was reported lost or stolen."""
        ...

    def list_events(self, device: str | None = None, limit: int | None = None) -> Iterator[StoredEvent]:
        """Events in the order they were stored."""
        ...

    def count_events(self, device: str | None = None) -> int:
        """How many events are stored."""
        ...

    def stored_bytes(self, device: str) -> int:
        """Bytes of event bodies stored for ``device`` (counted at ingest): its storage quota's figure."""
        ...

    def sequence_gaps(self, device: str | None = None) -> list[SequenceGap]:
        """Recorded gaps, open and explained."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
