"""Collector-side protobuf <-> domain conversion. The only collector module (with the
generated servicer base) that touches the wire contract."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from caseguard.v1 import collector_pb2, enrollment_pb2, events_pb2
from collector.errors import CollectorError
from collector.store.base import IncomingEvent, StoredEvent
from collector.wire.validation import MAX_STORED_INT, TimeWindow, body_problem, timestamp_us

_BODY_CLASSES: Mapping[str, type[Any]] = {
    f.name: getattr(events_pb2, f.message_type.name)  # type: ignore[union-attr]  # oneof fields are messages
    for f in events_pb2.Event.DESCRIPTOR.oneofs_by_name["body"].fields
}
_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Made by the collector alone (ReportLostDevice or the console), where the reporter is the
# authenticated caller; through SendEvents a device could name any reporter it liked.
_COLLECTOR_ONLY_KINDS = frozenset({"lost_device_report"})


@dataclass(frozen=True)
class DecodedBatch:
    """A SendEvents request split into storable events and per-event rejections.

    ``skewed`` counts stored events whose clock ran ahead of the collector's by more than the
    skew threshold, but not so far as to be rejected.
    """

    events: list[IncomingEvent]
    rejected: dict[str, str]
    claimed_devices: frozenset[str]
    skewed: int = 0


def decode_send_events(request: collector_pb2.SendEventsRequest, now_us: int | None = None) -> DecodedBatch:
    """Validate each event; malformed or out-of-range ones are rejected with a reason, the rest kept."""
    window = TimeWindow.around(time.time_ns() // 1000 if now_us is None else now_us)
    events: list[IncomingEvent] = []
    rejected: dict[str, str] = {}
    claimed: set[str] = set()
    skewed = 0
    for ev in request.events:
        if ev.device_id:
            claimed.add(ev.device_id)
        kind = ev.WhichOneof("body")
        reason = _invalid_reason(ev, kind, window)
        if reason is not None or kind is None:
            rejected[_rejection_key(ev)] = reason or "event has no body"
            continue
        body = getattr(ev, kind)
        shed: tuple[tuple[int, int], ...] = ()
        if kind == "events_shed":
            shed = tuple((r.first, r.last) for r in body.seq_ranges if 0 < r.first <= r.last)
        occurred_us = timestamp_us(ev.occurred_at.seconds, ev.occurred_at.nanos)
        if occurred_us > window.skew_from_us:
            skewed += 1
        events.append(
            IncomingEvent(
                ev.event_id,
                ev.seq,
                kind,
                occurred_us,
                ev.agent_version,
                body.SerializeToString(),
                shed,
                ev.outbox_epoch,
            )
        )
    return DecodedBatch(events, rejected, frozenset(claimed), skewed)


def _rejection_key(ev: events_pb2.Event) -> str:
    return ev.event_id or f"<no id, seq {ev.seq}>"


def _invalid_reason(ev: events_pb2.Event, kind: str | None, window: TimeWindow) -> str | None:
    if _UUID_TEXT.fullmatch(ev.event_id) is None:
        return "event_id must be a UUID in canonical text form"
    if ev.seq == 0:
        return "seq must be 1 or more"
    if ev.seq > MAX_STORED_INT:
        return f"seq must be at most {MAX_STORED_INT}"
    if kind is None:
        return "event has no body"
    if kind in _COLLECTOR_ONLY_KINDS:
        return f"{kind} is made by the collector; report a lost device with ReportLostDevice"
    if not ev.HasField("occurred_at"):
        return "occurred_at is required"
    problem = window.problem("occurred_at", timestamp_us(ev.occurred_at.seconds, ev.occurred_at.nanos))
    return problem if problem is not None else body_problem(getattr(ev, kind), window)


def send_events_response(acknowledged: Iterable[str], rejected: Mapping[str, str]) -> collector_pb2.SendEventsResponse:
    """The reply to SendEvents."""
    return collector_pb2.SendEventsResponse(
        acknowledged_event_ids=list(acknowledged),
        rejected=[collector_pb2.Rejection(event_id=k, reason=v) for k, v in rejected.items()],
    )


def heartbeat_response(device_id: str, reported_lost: bool, now: datetime) -> collector_pb2.HeartbeatResponse:
    """The reply to Heartbeat."""
    reply = collector_pb2.HeartbeatResponse(device_id=device_id, reported_lost=reported_lost)
    reply.server_time.FromDatetime(now)
    return reply


class InvalidRequest(CollectorError, ValueError):
    """A request whose values cannot be accepted; the message says which and why."""


def decode_lost_report(
    request: collector_pb2.ReportLostDeviceRequest, reporter: str, now_us: int | None = None
) -> tuple[str, bytes, int]:
    """(reported device name, serialised LostDeviceReport body, lost_at in µs or 0).

    ``reported_by`` is set from the authenticated reporter, whatever the payload said.
    Raises ``InvalidRequest`` for a value out of range (e.g. a lost_at in the year 33658).
    """
    report = events_pb2.LostDeviceReport()
    report.CopyFrom(request.report)
    report.reported_by = reporter
    window = TimeWindow.around(time.time_ns() // 1000 if now_us is None else now_us)
    problem = body_problem(report, window)
    if problem is not None:
        raise InvalidRequest(problem)
    lost_at = timestamp_us(report.lost_at.seconds, report.lost_at.nanos) if report.HasField("lost_at") else 0
    return report.device_name, report.SerializeToString(), lost_at


def lost_report_response(reference: str, message: str) -> collector_pb2.ReportLostDeviceResponse:
    """The reply to ReportLostDevice."""
    return collector_pb2.ReportLostDeviceResponse(reference=reference, message=message)


def body_to_dict(kind: str, body: bytes) -> dict[str, Any]:
    """A stored body as a JSON-ready dict with proto field names (enums by name)."""
    cls = _BODY_CLASSES.get(kind)
    if cls is None:
        return {"_undecodable": f"unknown kind {kind}"}
    try:
        msg = cls.FromString(body)
    except DecodeError:
        return {"_undecodable": "corrupt body"}
    result: dict[str, Any] = json_format.MessageToDict(
        msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return result


def event_to_dict(event: StoredEvent) -> dict[str, Any]:
    """One stored event as a flat JSON-ready dict: envelope fields, then the body's fields."""
    out: dict[str, Any] = body_to_dict(event.kind, event.body)
    out.update(
        {
            "device": event.device,
            "event_id": event.event_id,
            "seq": event.seq,
            "kind": event.kind,
            "occurred_at": us_to_iso(event.occurred_at_us),
            "received_at": us_to_iso(event.received_at_us),
            "agent_version": event.agent_version,
        }
    )
    return out


def us_to_iso(us: int | None) -> str | None:
    """Microseconds since the epoch as RFC 3339 UTC text (a stored value no datetime holds says so)."""
    if us is None:
        return None
    try:
        return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return f"not a valid time ({us} microseconds since 1970)"


def enroll_response(device_name: str, cert_pem: bytes, not_after: datetime) -> enrollment_pb2.EnrollResponse:
    """The reply to Enroll."""
    reply = enrollment_pb2.EnrollResponse(device_name=device_name, certificate_pem=cert_pem)
    reply.not_after.FromDatetime(not_after)
    return reply


def renew_response(cert_pem: bytes, not_after: datetime) -> collector_pb2.RenewCertificateResponse:
    """The reply to RenewCertificate."""
    reply = collector_pb2.RenewCertificateResponse(certificate_pem=cert_pem)
    reply.not_after.FromDatetime(not_after)
    return reply


def policy_response(version: int, body: bytes, signature: bytes, signer_pem: bytes) -> collector_pb2.GetPolicyResponse:
    """A GetPolicy reply carrying a newer signed policy."""
    return collector_pb2.GetPolicyResponse(
        changed=True,
        policy=collector_pb2.SignedPolicy(version=version, body=body, signature=signature, signer_pem=signer_pem),
    )
