"""Alerts: one breach-class signal about one device, made from an agent event or a collector check.

An Alert keeps every field of the event it came from (including the per-file facts), so
grouping alerts into incidents never loses anything. The summary properties (reasons,
confidence, identifier counts, labels, markings, protected references) are computed from
the files, never stored twice. Alert ids are derived from the source, so re-delivering
the same event yields the same id and the store can ignore the duplicate.
"""

from __future__ import annotations

import enum
import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

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
    UninspectableDestinationFacts,
    UninspectableFileFacts,
    VolumeFacts,
)
from collector.domain.instants import iso_utc, require_optional_utc, require_utc


class AlertKind(enum.StrEnum):
    """What sort of breach-class signal an alert is."""

    CASE_FILE_EGRESS = "case_file_egress"
    CASE_FILES_FOUND = "case_files_found"
    LOCK_FAILED = "lock_failed"
    LOST_DEVICE = "lost_device"
    DEVICE_SILENT = "device_silent"
    SEQUENCE_GAP = "sequence_gap"
    LOST_DEVICE_CHECK_IN = "lost_device_check_in"
    UNINSPECTABLE_FILE = "uninspectable_file"
    """A file the agent could not judge arrived at a removable or personal destination. Files of one copy
    burst share an incident (the copy-burst rule), which drafts no risk assessment of its own: it ranks
    below case-file egress, and joins an egress incident when the same burst also carried case files."""
    UNINSPECTABLE_DESTINATION = "uninspectable_destination"
    """A phone or camera (MTP/PTP) was attached: the agent sees it but cannot inspect what is copied to it.
    Attaching and detaching the same device on the same laptop share an incident (the same-destination
    rule); it drafts no risk assessment of its own."""


@dataclass(frozen=True)
class Alert:
    """One breach-class signal. Build it with the ``alert_from_*`` functions, not by hand.

    ``occurred_at`` is when it happened on the device (for a loss: when it was lost, if
    known); ``received_at`` is when the collector learned of it, which is what starts the
    provisional clock.
    """

    alert_id: str
    kind: AlertKind
    device_id: str
    occurred_at: datetime
    received_at: datetime
    source_event_ids: tuple[str, ...] = ()
    source_seqs: tuple[int, ...] = ()
    agent_version: str = ""
    destination_class: DestinationClass = DestinationClass.UNSPECIFIED
    destination_kind: str = ""
    volume: VolumeFacts | None = None
    copy_burst_id: str = ""
    arrival: Arrival = Arrival.UNSPECIFIED
    files: tuple[FileMatchFacts, ...] = ()
    files_scanned: int = 0
    scan_truncated: bool = False
    scan_id: str = ""
    lock_failure: LockFailedFacts | None = None
    lost_report: LostDeviceFacts | None = None
    reporter_device_id: str = ""
    silent_since: datetime | None = None
    missing_seqs: SeqRange | None = None
    network: str = ""  # a check-in: the class of address it came from ("public internet", ...), never the address
    locked_by: str = ""  # a check-in that is the agent's lockdown confirmation: how it locked the session
    device_attached: bool | None = None  # portable devices: attached (True) or detached (False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "occurred_at", require_utc(self.occurred_at, "occurred_at"))
        object.__setattr__(self, "received_at", require_utc(self.received_at, "received_at"))
        object.__setattr__(self, "silent_since", require_optional_utc(self.silent_since, "silent_since"))

    @property
    def volume_serial_hash(self) -> str:
        """The keyed hash of the volume's serial number, or "" when there is none."""
        return self.volume.serial_hmac if self.volume else ""

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the files were judged case files ("exact", "fingerprint", ...), de-duplicated, in order."""
        return tuple(dict.fromkeys(r for f in self.files for r in f.reasons))

    @property
    def confidence(self) -> float | None:
        """The highest file confidence (0..1), or None for alerts about no file."""
        return max((f.confidence for f in self.files), default=None)

    @property
    def identifier_counts(self) -> dict[str, int]:
        """Identifiers found across the files, summed by kind (e.g. ``{"nhs_number": 4}``)."""
        total: Counter[str] = Counter()
        for f in self.files:
            for name, count in f.identifier_counts:
                total[name] += count
        return dict(sorted(total.items()))

    @property
    def labels(self) -> tuple[str, ...]:
        """Sensitivity labels seen on the files, de-duplicated, in order."""
        return tuple(dict.fromkeys(x for f in self.files for x in f.labels))

    @property
    def markings(self) -> tuple[str, ...]:
        """Protective markings seen on the files (e.g. OFFICIAL-SENSITIVE), de-duplicated, in order."""
        return tuple(dict.fromkeys(x for f in self.files for x in f.markings))

    @property
    def protected_refs(self) -> tuple[str, ...]:
        """Keyed references to the matched protected documents, de-duplicated, in order."""
        return tuple(dict.fromkeys(f.protected_ref for f in self.files if f.protected_ref))

    @property
    def file_hashes(self) -> tuple[str, ...]:
        """Keyed content hashes of the files, de-duplicated, in order (counts distinct files)."""
        return tuple(dict.fromkeys(f.sha256_hmac for f in self.files if f.sha256_hmac))

    @property
    def destination_key(self) -> str:
        """One string naming the destination: class, kind and volume serial hash."""
        return f"{self.destination_class}/{self.destination_kind}/{self.volume_serial_hash or '-'}"


def derive_alert_id(kind: AlertKind, device_id: str, *parts: str) -> str:
    """A stable alert id from its kind, device and source (event ids, or a time for collector checks)."""
    digest = hashlib.sha256("\x1f".join((str(kind), device_id, *parts)).encode()).hexdigest()
    return f"al-{digest[:32]}"


def alert_from_case_file_egress(envelope: EventEnvelope, facts: CaseFileEgressFacts) -> Alert:
    """Make the alert for a ``CaseFileEgress`` event."""
    return Alert(
        alert_id=derive_alert_id(AlertKind.CASE_FILE_EGRESS, envelope.device_id, envelope.event_id),
        kind=AlertKind.CASE_FILE_EGRESS,
        device_id=envelope.device_id,
        occurred_at=envelope.occurred_at,
        received_at=envelope.received_at,
        source_event_ids=(envelope.event_id,),
        source_seqs=(envelope.seq,),
        agent_version=envelope.agent_version,
        destination_class=facts.destination_class,
        destination_kind=facts.destination_kind,
        volume=facts.volume,
        copy_burst_id=facts.copy_burst_id,
        arrival=facts.arrival,
        files=(facts.file,),
    )


def alert_from_case_files_found(envelope: EventEnvelope, facts: CaseFilesFoundFacts) -> Alert:
    """Make the alert for a ``CaseFilesFoundOnVolume`` event (a removable volume holding case files)."""
    return Alert(
        alert_id=derive_alert_id(AlertKind.CASE_FILES_FOUND, envelope.device_id, envelope.event_id),
        kind=AlertKind.CASE_FILES_FOUND,
        device_id=envelope.device_id,
        occurred_at=envelope.occurred_at,
        received_at=envelope.received_at,
        source_event_ids=(envelope.event_id,),
        source_seqs=(envelope.seq,),
        agent_version=envelope.agent_version,
        destination_class=DestinationClass.REMOVABLE_VOLUME,
        destination_kind=facts.volume.bus or "unknown",
        volume=facts.volume,
        files=facts.files,
        files_scanned=facts.files_scanned,
        scan_truncated=facts.truncated,
        scan_id=facts.scan_id,
    )


def alert_from_lock_failed(envelope: EventEnvelope, facts: LockFailedFacts) -> Alert:
    """Make the alert for a ``LockFailed`` event (an idle session the agent could not lock)."""
    return Alert(
        alert_id=derive_alert_id(AlertKind.LOCK_FAILED, envelope.device_id, envelope.event_id),
        kind=AlertKind.LOCK_FAILED,
        device_id=envelope.device_id,
        occurred_at=envelope.occurred_at,
        received_at=envelope.received_at,
        source_event_ids=(envelope.event_id,),
        source_seqs=(envelope.seq,),
        agent_version=envelope.agent_version,
        lock_failure=facts,
    )


def alert_from_uninspectable_file(envelope: EventEnvelope, facts: UninspectableFileFacts) -> Alert:
    """Make the alert for an ``UninspectableFile`` event (a file that could not be judged, copied out)."""
    return Alert(
        alert_id=derive_alert_id(AlertKind.UNINSPECTABLE_FILE, envelope.device_id, envelope.event_id),
        kind=AlertKind.UNINSPECTABLE_FILE,
        device_id=envelope.device_id,
        occurred_at=envelope.occurred_at,
        received_at=envelope.received_at,
        source_event_ids=(envelope.event_id,),
        source_seqs=(envelope.seq,),
        agent_version=envelope.agent_version,
        destination_class=facts.destination_class,
        destination_kind=facts.destination_kind,
        volume=facts.volume,
        copy_burst_id=facts.copy_burst_id,
        arrival=facts.arrival,
        files=(facts.file,),
    )


def alert_from_uninspectable_destination(envelope: EventEnvelope, facts: UninspectableDestinationFacts) -> Alert:
    """Make the alert for an ``UninspectableDestination`` event (a portable device attached or detached)."""
    return Alert(
        alert_id=derive_alert_id(AlertKind.UNINSPECTABLE_DESTINATION, envelope.device_id, envelope.event_id),
        kind=AlertKind.UNINSPECTABLE_DESTINATION,
        device_id=envelope.device_id,
        occurred_at=envelope.occurred_at,
        received_at=envelope.received_at,
        source_event_ids=(envelope.event_id,),
        source_seqs=(envelope.seq,),
        agent_version=envelope.agent_version,
        destination_class=facts.destination_class,
        destination_kind=facts.destination_kind,
        volume=facts.device,
        device_attached=facts.attached,
    )


AgentEventFacts = (
    CaseFileEgressFacts | CaseFilesFoundFacts | LockFailedFacts | UninspectableFileFacts | UninspectableDestinationFacts
)


def alert_from_agent_event(envelope: EventEnvelope, facts: AgentEventFacts) -> Alert:
    """Make the alert for any breach-class agent event (egress, case files found, lock failed, uninspectable)."""
    if isinstance(facts, UninspectableFileFacts):
        return alert_from_uninspectable_file(envelope, facts)
    if isinstance(facts, UninspectableDestinationFacts):
        return alert_from_uninspectable_destination(envelope, facts)
    if isinstance(facts, CaseFileEgressFacts):
        return alert_from_case_file_egress(envelope, facts)
    if isinstance(facts, CaseFilesFoundFacts):
        return alert_from_case_files_found(envelope, facts)
    return alert_from_lock_failed(envelope, facts)


def alert_from_lost_device_report(
    facts: LostDeviceFacts,
    *,
    lost_device_id: str,
    report_id: str,
    received_at: datetime,
    reporter_device_id: str = "",
) -> Alert:
    """Make the alert for a lost-device report.

    The report may come from another enrolled device (``ReportLostDevice``) or the console,
    so the caller resolves which device was lost (``lost_device_id``, e.g. from
    ``facts.device_name``) and names the report (its event id, or a console reference).
    ``occurred_at`` is the reported loss time, or ``received_at`` when that is unknown.
    """
    received = require_utc(received_at, "received_at")
    return Alert(
        alert_id=derive_alert_id(AlertKind.LOST_DEVICE, lost_device_id, report_id),
        kind=AlertKind.LOST_DEVICE,
        device_id=lost_device_id,
        occurred_at=facts.lost_at or received,
        received_at=received,
        source_event_ids=(report_id,),
        lost_report=facts,
        reporter_device_id=reporter_device_id,
    )


def alert_for_silent_device(device_id: str, last_seen_at: datetime, detected_at: datetime) -> Alert:
    """Make the alert for a device not heard from since ``last_seen_at`` (see ``device_signals``).

    The id depends only on the device and ``last_seen_at``, so repeated checks during the same
    silence produce the same alert.
    """
    last_seen = require_utc(last_seen_at, "last_seen_at")
    return Alert(
        alert_id=derive_alert_id(AlertKind.DEVICE_SILENT, device_id, iso_utc(last_seen)),
        kind=AlertKind.DEVICE_SILENT,
        device_id=device_id,
        occurred_at=last_seen,
        received_at=detected_at,
        silent_since=last_seen,
    )


def alert_for_sequence_gap(device_id: str, missing: SeqRange, detected_at: datetime) -> Alert:
    """Make the alert for a device's events that will never arrive (see ``device_signals``).

    When the lost events happened is unknown, so ``occurred_at`` is the detection time.
    """
    detected = require_utc(detected_at, "detected_at")
    return Alert(
        alert_id=derive_alert_id(AlertKind.SEQUENCE_GAP, device_id, f"{missing.first}-{missing.last}"),
        kind=AlertKind.SEQUENCE_GAP,
        device_id=device_id,
        occurred_at=detected,
        received_at=detected,
        missing_seqs=missing,
    )


def alert_for_lost_device_check_in(
    device_id: str, lost_at: datetime, seen_at: datetime, detected_at: datetime, source: str = "",
    *, network: str = "", locked_by: str = "",
) -> Alert:
    """Make the alert for a device reported lost that was heard from again (an event or a heartbeat).

    The id depends on the device, when it was marked lost and the UTC day of the check-in, so
    a laptop that keeps checking in raises at most one alert a day, not one per heartbeat.
    ``source`` names what was heard (an event id, or "heartbeat"); ``network`` the class of the
    address it called from. ``locked_by`` marks the agent's confirmation that it locked every
    session on the collector's instruction: one alert per confirmation (its id is the event's).
    """
    lost = require_utc(lost_at, "lost_at")
    seen = require_utc(seen_at, "seen_at")
    parts = ("locked", source) if locked_by else (seen.date().isoformat(),)
    return Alert(
        alert_id=derive_alert_id(AlertKind.LOST_DEVICE_CHECK_IN, device_id, iso_utc(lost), *parts),
        kind=AlertKind.LOST_DEVICE_CHECK_IN,
        device_id=device_id,
        occurred_at=seen,
        received_at=detected_at,
        source_event_ids=(source,) if source else (),
        network=network,
        locked_by=locked_by,
    )
