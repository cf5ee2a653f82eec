"""What the breach workflow keeps, and the interface every workflow storage backend implements.

The workflow shares the event store's database (it reads the events table) but owns its
own tables. Every change goes through one ``transaction()``: an incident's new snapshot,
its audit entries, the alert index, warnings sent and queued notifications commit together
or not at all, so the audit log and the notification outbox never disagree with the
incidents. The chain head is kept apart from the audit rows so truncation is detected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from collector.domain.audit_chain import ChainEntry
from collector.domain.canonical_json import JsonValue
from collector.domain.incident_record import IncidentRecord
from collector.store.base import StoredEvent

EVENT_CURSOR = "event_cursor"


@dataclass(frozen=True)
class EventRow:
    """A stored event with its storage position and the device's lost marking (if any)."""

    row_id: int
    event: StoredEvent
    device_lost_at_us: int | None


@dataclass(frozen=True)
class DeviceActivity:
    """What the periodic checks need to know about one device."""

    name: str
    last_seen_at_us: int | None
    revoked: bool
    lost_at_us: int | None


@dataclass(frozen=True)
class PendingNotification:
    """A queued notification and which channels still have to deliver it."""

    id: int
    dedupe_key: str
    kind: str
    incident_id: str
    payload: Mapping[str, Any]
    created_at_us: int
    email_done: bool
    webhook_done: bool
    attempts: int


@dataclass(frozen=True)
class QuarantinedEvent:
    """A stored event the workflow could not turn into alerts, and why."""

    row_id: int
    device: str
    event_id: str
    kind: str
    reason: str
    cause: str  # "event" or "storage"
    first_attempt_at_us: int
    last_attempt_at_us: int
    attempts: int
    workflow_version: str


class WorkflowReads(Protocol):
    """Reads available both inside and outside a transaction."""

    def get_incident(self, incident_id: str) -> IncidentRecord | None:
        """One incident, or None."""
        ...

    def list_incidents(self, states: Sequence[str] | None = None) -> list[IncidentRecord]:
        """Incidents (optionally only those in ``states``), oldest first."""
        ...

    def incident_for_alert(self, alert_id: str) -> str | None:
        """The incident holding ``alert_id``, or None if the alert is not placed yet."""
        ...

    def find_event(self, device: str, event_id: str) -> EventRow | None:
        """One stored event by device and event id."""
        ...

    def latest_posture_events(self, device: str, kinds: Sequence[str]) -> dict[str, StoredEvent]:
        """The device's most recent stored event of each kind in ``kinds``."""
        ...

    def last_heard_from(self, device: str) -> int | None:
        """When the device's own most recent event arrived (collector-made reports excluded)."""
        ...

    def device_lost_at(self, device: str) -> int | None:
        """When the device was marked lost, or None."""
        ...

    def ico_edits(self, incident_id: str) -> dict[str, JsonValue]:
        """An IG officer's edits to the incident's ICO draft (field -> JSON value)."""
        ...

    def counter(self, name: str) -> int:
        """A named counter (0 when never set)."""
        ...

    def warnings_sent(self, incident_id: str) -> set[str]:
        """Text keys of the deadline warnings already sent for the incident."""
        ...

    def event_at(self, row_id: int) -> EventRow | None:
        """One stored event by its storage position."""
        ...

    def quarantined(self, limit: int = 1000) -> list[QuarantinedEvent]:
        """Quarantined events, oldest first."""
        ...

    def quarantine_count(self) -> int:
        """How many events are quarantined."""
        ...


class WorkflowTx(WorkflowReads, Protocol):
    """Writes, valid only inside ``WorkflowStore.transaction()``."""

    def open_incident_ids_for_device(self, device: str) -> list[str]:
        """Ids of open (not closed or dismissed) incidents holding an alert about ``device``."""
        ...

    def save_incident(self, record: IncidentRecord, now_us: int) -> None:
        """Insert or replace the incident's snapshot, state, draft and notified grade."""
        ...

    def index_alert(self, alert_id: str, kind: str, device: str, received_at_us: int, incident_id: str) -> None:
        """Record (or move, after a split) which incident holds ``alert_id``."""
        ...

    def append_audit(self, fields: Mapping[str, Any]) -> ChainEntry:
        """Append the next chain entry (``append_entry`` keyword fields) and move the head to it."""
        ...

    def record_warning(self, incident_id: str, key: str, at_us: int) -> bool:
        """Remember a warning as sent; False when it already was."""
        ...

    def enqueue_notification(
        self, dedupe_key: str, kind: str, incident_id: str, payload: Mapping[str, JsonValue], at_us: int
    ) -> bool:
        """Queue a notification; False (and nothing queued) when ``dedupe_key`` was queued before."""
        ...

    def save_ico_edits(self, incident_id: str, edits: Mapping[str, JsonValue], at_us: int, by: str) -> None:
        """Replace the incident's ICO draft edits."""
        ...

    def set_counter(self, name: str, value: int) -> None:
        """Set a named counter."""
        ...

    def clear_lost(self, device: str) -> bool:
        """Withdraw a device's lost marking (it was found); False if it had none."""
        ...

    def mark_handled(self, row_ids: Sequence[int], at_us: int) -> None:
        """Record breach-class events as dealt with (the sweep skips them); repeats are harmless."""
        ...

    def quarantine(self, row: EventRow, reason: str, cause: str, at_us: int, version: str) -> None:
        """Quarantine an event (or count another failed attempt on a quarantined one)."""
        ...

    def release(self, row_id: int) -> bool:
        """Take an event out of quarantine (its retry worked); False if it was not there."""
        ...


class WorkflowStore(WorkflowReads, Protocol):
    """Storage for the breach workflow; see collector/store/workflow.py."""

    def transaction(self) -> AbstractContextManager[WorkflowTx]:
        """One durable write transaction, serialised with every other writer (other processes too)."""
        ...

    def events_after(self, row_id: int, kinds: Sequence[str], limit: int) -> tuple[list[EventRow], int]:
        """Events after ``row_id`` that are of ``kinds`` or come from a device marked lost before they arrived.

        Returns them (at most ``limit``, in storage order) and the position up to which
        nothing else is of interest: the last row returned, or the newest event when fewer
        than ``limit`` matched.
        """
        ...

    def unhandled_events(self, kinds: Sequence[str], upto: int, since_us: int, limit: int) -> list[EventRow]:
        """Events of ``kinds`` at or below position ``upto``, received since ``since_us``, that are
        neither handled nor quarantined (at most ``limit``, in storage order): the sweep's work."""
        ...

    def device_activity(self) -> list[DeviceActivity]:
        """Every enrolled device's last sighting and flags (cheap: no event counts)."""
        ...

    def open_gaps(self) -> list[tuple[str, int, int, int]]:
        """Unexplained sequence gaps as (device, first_seq, last_seq, detected_at_us)."""
        ...

    def pending_notifications(self, now_us: int, limit: int = 100) -> list[PendingNotification]:
        """Notifications with a channel still to deliver, due at ``now_us``, oldest first."""
        ...

    def claim_notification(self, holder: str, now_us: int, lease_us: int) -> PendingNotification | None:
        """Atomically take the oldest due notice that is unclaimed or whose lease expired; None if none.

        Several collectors sharing a database each claim before sending, so each notice is sent
        once; a collector that dies mid-send leaves a lease that expires and is taken over.
        """
        ...

    def update_notification(
        self, id: int, *, email_done: bool, webhook_done: bool, attempts: int, next_attempt_us: int, error: str | None
    ) -> None:
        """Record a delivery attempt's outcome (and release its claim)."""
        ...

    def audit_entries(self) -> Iterator[ChainEntry]:
        """Every audit entry in the order it was stored."""
        ...

    def audit_head(self) -> tuple[int, str] | None:
        """The (seq, hash) recorded as the chain's head, or None before the first entry."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
