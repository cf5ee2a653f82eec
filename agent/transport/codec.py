"""Agent-side protobuf <-> domain conversion. The only agent module that imports the wire contract."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format

from agent.errors import UsageError
from agent.outbox import PendingEvent
from caseguard.v1 import collector_pb2, events_pb2

_BODY_FIELDS = frozenset(f.name for f in events_pb2.Event.DESCRIPTOR.oneofs_by_name["body"].fields)
_SEND_EVENTS_FIELD_TAG = b"\x0a"  # SendEventsRequest.events: field 1, wire type 2 (length-delimited)


class InvalidEventBody(UsageError, ValueError):
    """A producer handed over a body that does not fit its message in events.proto."""


def encode_event(event: PendingEvent, *, device_id: str, agent_version: str) -> bytes:
    """Serialise one event envelope with its body."""
    if event.kind not in _BODY_FIELDS:
        raise InvalidEventBody(f"unknown event kind {event.kind!r}")
    msg = events_pb2.Event(
        event_id=event.event_id,
        seq=event.seq,
        agent_version=agent_version,
        device_id=device_id,
        outbox_epoch=event.epoch,
    )
    seconds = int(event.occurred_at)
    msg.occurred_at.seconds = seconds
    msg.occurred_at.nanos = round((event.occurred_at - seconds) * 1e9) % 1_000_000_000
    body_msg = getattr(msg, event.kind)
    try:
        json_format.ParseDict(dict(event.body), body_msg)
    except json_format.ParseError as exc:
        raise InvalidEventBody(f"{event.kind}: {exc}") from exc
    body_msg.SetInParent()  # an empty body still selects the oneof
    return msg.SerializeToString()


def encode_send_events(payloads: Iterable[bytes]) -> bytes:
    """Frame already-serialised Events as a SendEventsRequest without re-parsing them."""
    parts: list[bytes] = []
    for p in payloads:
        parts.append(_SEND_EVENTS_FIELD_TAG)
        parts.append(_varint(len(p)))
        parts.append(p)
    return b"".join(parts)


def decode_send_events_response(data: bytes) -> tuple[list[str], dict[str, str]]:
    """Acknowledged event ids and {event_id: reason} for rejected ones."""
    reply = collector_pb2.SendEventsResponse.FromString(data)
    return list(reply.acknowledged_event_ids), {r.event_id: r.reason for r in reply.rejected}


def encode_heartbeat_request(outbox_depth: int, agent_version: str, now: datetime) -> bytes:
    """A Heartbeat RPC request."""
    req = collector_pb2.HeartbeatRequest(outbox_depth=outbox_depth, agent_version=agent_version)
    req.sent_at.FromDatetime(now)
    return req.SerializeToString()


def decode_heartbeat_response(data: bytes) -> dict[str, Any]:
    """The collector's view of this device, as a dict."""
    reply = collector_pb2.HeartbeatResponse.FromString(data)
    return {
        "server_time": reply.server_time.ToDatetime(tzinfo=UTC).isoformat(),
        "device_id": reply.device_id,
        "reported_lost": reply.reported_lost,
        "policy_version": reply.policy_version,
    }


def encode_lost_device_request(report: Mapping[str, Any]) -> bytes:
    """A ReportLostDevice request from a LostDeviceReport-shaped mapping."""
    req = collector_pb2.ReportLostDeviceRequest()
    try:
        json_format.ParseDict(dict(report), req.report)
    except json_format.ParseError as exc:
        raise InvalidEventBody(f"lost_device_report: {exc}") from exc
    return req.SerializeToString()


def decode_lost_device_response(data: bytes) -> tuple[str, str]:
    """(reference, message for the staff member)."""
    reply = collector_pb2.ReportLostDeviceResponse.FromString(data)
    return reply.reference, reply.message


def encode_retire_request(reason: str) -> bytes:
    """A RetireDevice request."""
    return collector_pb2.RetireDeviceRequest(reason=reason).SerializeToString()


def decode_retire_response(data: bytes) -> str:
    """The device id the collector retired."""
    return str(collector_pb2.RetireDeviceResponse.FromString(data).device_id)


def encode_renew_request(csr_der: bytes) -> bytes:
    """A RenewCertificate request."""
    return collector_pb2.RenewCertificateRequest(csr_der=csr_der).SerializeToString()


def decode_renew_response(data: bytes) -> bytes:
    """The renewed certificate, PEM."""
    return bytes(collector_pb2.RenewCertificateResponse.FromString(data).certificate_pem)


@dataclass(frozen=True)
class SignedPolicyWire:
    """A signed central policy as it came off the wire (verified by agent.policy)."""

    version: int
    body: bytes
    signature: bytes
    signer_pem: bytes


def encode_policy_request(have_version: int) -> bytes:
    """A GetPolicy request."""
    return collector_pb2.GetPolicyRequest(have_version=have_version).SerializeToString()


def decode_policy_response(data: bytes) -> SignedPolicyWire | None:
    """The newer policy, or None when the agent's is current."""
    reply = collector_pb2.GetPolicyResponse.FromString(data)
    if not reply.changed:
        return None
    p = reply.policy
    return SignedPolicyWire(p.version, bytes(p.body), bytes(p.signature), bytes(p.signer_pem))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def fitting_prefix(payloads: Sequence[bytes], max_bytes: int) -> int:
    """How many leading payloads fit in one SendEventsRequest of at most ``max_bytes`` (at least 1)."""
    size = 0
    for i, p in enumerate(payloads):
        size += len(p) + 1 + len(_varint(len(p)))
        if size > max_bytes:
            return max(1, i)
    return len(payloads)
