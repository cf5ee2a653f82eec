"""Filing a lost-device report: the one path shared by gRPC ReportLostDevice and the console.

A report is stored as an event of the lost device (seq 0: made by the collector, not the
device) through the group-commit writer, the device is marked lost, and the breach
workflow opens (or joins) the incident at once. Whoever calls decides who the reporter
is (an authenticated device, or a signed-in console account); nothing in a payload does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from caseguard.v1 import events_pb2
from collector.store.base import IncomingEvent, Store, UnknownDevice
from collector.store.group_commit import GroupCommitWriter

LOST_DEVICE_KIND = "lost_device_report"


class LostDeviceWorkflow(Protocol):
    """The breach workflow's hook for a stored report (``WorkflowService.lost_device_reported``; never raises)."""

    def lost_device_reported(self, device: str, report_event_id: str) -> str | None:
        """Open (or join) the lost device's incident; its id, or None if the workflow failed."""
        ...


@dataclass(frozen=True)
class FiledReport:
    """A stored report: its own id, and the incident it opened or joined (None: the next tick places it)."""

    report_id: str
    incident_id: str | None

    @property
    def reference(self) -> str:
        """What the reporter is told to quote: the incident id, or the report id until there is one."""
        return self.incident_id or self.report_id


def lost_report_body(
    device_name: str,
    *,
    reported_by: str,
    lost_at: datetime | None = None,
    circumstances: str = "",
    was_locked: bool | None = None,
    contents_note: str = "",
) -> bytes:
    """A serialised ``LostDeviceReport`` body (``was_locked`` None: the reporter did not know)."""
    report = events_pb2.LostDeviceReport(
        device_name=device_name,
        circumstances=circumstances,
        was_locked=bool(was_locked),
        was_locked_known=was_locked is not None,
        contents_note=contents_note,
        reported_by=reported_by,
    )
    if lost_at is not None:
        report.lost_at.FromDatetime(lost_at)
    return bytes(report.SerializeToString())


def file_lost_report(
    store: Store,
    writer: GroupCommitWriter,
    workflow: LostDeviceWorkflow | None,
    device: str,
    body: bytes,
    *,
    lost_at_us: int,
    now_us: int,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> FiledReport:
    """Store the report under ``device``, mark it lost and open its incident.

    Raises ``UnknownDevice`` for a device that is not enrolled, ``StoreError`` or
    ``TimeoutError`` when storage fails (nothing is marked lost then).
    """
    if store.get_device(device) is None:
        raise UnknownDevice(f"no enrolled device named {device!r}")
    report_id = new_id()
    writer.submit(device, [IncomingEvent(report_id, 0, LOST_DEVICE_KIND, lost_at_us or now_us, "collector", body)])
    store.mark_lost(device, now_us)
    incident = workflow.lost_device_reported(device, report_id) if workflow is not None else None
    return FiledReport(report_id, incident)
