"""A real SQLite store, synthetic agent events and a clock the test moves. No real people or files."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from caseguard.v1 import events_pb2
from collector.store.base import IncomingEvent
from collector.store.events import SQLiteStore
from collector.store.workflow import SQLiteWorkflowStore
from collector.workflow.policy import WorkflowPolicy
from collector.workflow.service import WorkflowService
from collector.workflow.times import to_us

T0 = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)  # a Monday, BST

EGRESS: dict[str, Any] = {
    "destination_class": "DESTINATION_CLASS_REMOVABLE_VOLUME",
    "destination_kind": "usb",
    "volume": {"label": "STICK", "filesystem": "vfat", "bus": "usb", "serial_hmac": "ab" * 16},
    "copy_burst_id": "burst-1",
    "arrival": "ARRIVAL_CLOSED_AFTER_WRITE",
    "file": {
        "extension": "docx",
        "size_bytes": 1234,
        "sha256_hmac": "cd" * 16,
        "reasons": ["exact"],
        "confidence": 1.0,
        "identifier_counts": {"nhs_number": 2},
        "markings": ["OFFICIAL-SENSITIVE"],
        "file_name": "Child A.docx",
    },
}
ENCRYPTED = {
    "system_volume": "ENCRYPTION_STATE_ENCRYPTED",
    "home_volume": "ENCRYPTION_STATE_ENCRYPTED",
    "method": "luks2",
}
NOT_ENCRYPTED = {"system_volume": "ENCRYPTION_STATE_NOT_ENCRYPTED", "home_volume": "ENCRYPTION_STATE_NOT_ENCRYPTED"}
LOCKED = {
    "os_lock_timeout_s": 300,
    "os_lock_timeout_known": True,
    "password_on_wake": True,
    "password_on_wake_known": True,
    "enforced_by_agent": True,
    "source": "gnome",
}
HEARTBEAT = {"posture": {"protected_documents_indexed": 40, "policy_version": "p1"}, "interval_s": 300}


def body(kind: str, fields: dict[str, Any]) -> bytes:
    """A serialised event body of ``kind`` from JSON-style fields."""
    msg = events_pb2.Event()
    json_format.ParseDict({kind: fields}, msg)
    return bytes(getattr(msg, kind).SerializeToString())


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class World:
    """An event store, a workflow store over the same file, and the service under test."""

    path: Path
    clock: Clock = field(default_factory=Clock)
    policy: WorkflowPolicy = field(default_factory=WorkflowPolicy)
    seqs: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.events = SQLiteStore(self.path)
        self.store = SQLiteWorkflowStore(self.path)
        self.service = WorkflowService(self.store, policy=self.policy, clock=self.clock)

    def device(self, name: str) -> str:
        self.events.register_device(name, f"fp-{name}", to_us(self.clock.now))
        self.seqs[name] = 0
        return name

    def emit(self, device: str, kind: str, fields: dict[str, Any], *, seq: int | None = None) -> str:
        """Store one event as ingest would, received now; returns its id."""
        self.seqs[device] = seq if seq is not None else self.seqs[device] + 1
        event_id = str(uuid.uuid4())
        event = IncomingEvent(event_id, self.seqs[device], kind, to_us(self.clock.now), "test", body(kind, fields))
        self.events.ingest([(device, [event])], to_us(self.clock.now))
        return event_id

    def report_lost(self, device: str, reporter: str, **fields: Any) -> str:
        """Store a lost-device report as the servicer does (seq 0, under the lost device) and mark it lost."""
        report = {"device_name": device, "reported_by": reporter, "was_locked_known": False, **fields}
        event_id = str(uuid.uuid4())
        now = to_us(self.clock.now)
        event = IncomingEvent(event_id, 0, "lost_device_report", now, "collector", body("lost_device_report", report))
        self.events.ingest([(device, [event])], now)
        self.events.mark_lost(device, now)
        return event_id

    def close(self) -> None:
        self.store.close()
        self.events.close()
