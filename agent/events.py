"""The agent's event model: kinds, their delivery classes, and the sink producers emit into.

A producer (egress watcher, lock controller, posture reader) never builds protobuf: it
calls ``sink.emit(kind, body)`` where ``body`` is a plain mapping whose keys are the
field names of the matching message in protos/caseguard/v1/events.proto (snake_case;
enums by their full name, e.g. ``"ENCRYPTION_STATE_ENCRYPTED"``; timestamps as
RFC 3339 strings; nested messages as nested mappings). The transport codec turns it
into the wire form when the event is committed to the outbox.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Protocol

from agent.errors import UsageError


class DeliveryClass(enum.IntEnum):
    """How precious an event is when the outbox is full (higher is kept longer)."""

    SHEDDABLE = 0  # heartbeats, repeated posture: shed first
    ROUTINE = 1  # lifecycle, mounts, lock enforced, test events
    CRITICAL = 2  # breach-class and coverage signals: never dropped


# Every body kind in the Event oneof, with its delivery class.
KIND_CLASSES: Mapping[str, DeliveryClass] = {
    "case_file_egress": DeliveryClass.CRITICAL,
    "case_files_found": DeliveryClass.CRITICAL,
    "lock_failed": DeliveryClass.CRITICAL,
    "lost_device_report": DeliveryClass.CRITICAL,
    "coverage_degraded": DeliveryClass.CRITICAL,
    "uninspectable_file": DeliveryClass.CRITICAL,
    "uninspectable_destination": DeliveryClass.CRITICAL,
    "events_shed": DeliveryClass.CRITICAL,
    "volume_mounted": DeliveryClass.ROUTINE,
    "volume_unmounted": DeliveryClass.ROUTINE,
    "lock_enforced": DeliveryClass.ROUTINE,
    "agent_started": DeliveryClass.ROUTINE,
    "agent_stopping": DeliveryClass.ROUTINE,
    "test": DeliveryClass.ROUTINE,
    "policy_applied": DeliveryClass.ROUTINE,
    "lock_posture": DeliveryClass.SHEDDABLE,
    "encryption_posture": DeliveryClass.SHEDDABLE,
    "heartbeat": DeliveryClass.SHEDDABLE,
}

# Posture kinds: only the newest undelivered one of each matters, so older ones are shed first.
POSTURE_KINDS: frozenset[str] = frozenset({"lock_posture", "encryption_posture"})


def delivery_class(kind: str) -> DeliveryClass:
    """The delivery class of ``kind``; raises ``UnknownEventKind`` for kinds not in the contract."""
    try:
        return KIND_CLASSES[kind]
    except KeyError:
        raise UnknownEventKind(kind) from None


class UnknownEventKind(UsageError, ValueError):
    """An event kind that the wire contract does not have."""


class EventSink(Protocol):
    """Where producers put events. Implementations commit to disk before returning."""

    def emit(self, kind: str, body: Mapping[str, Any]) -> None:
        """Record one event of ``kind`` with ``body`` (see module docstring for its shape)."""
        ...
