"""Range checks for everything a device sends, before anything is stored.

An enrolled laptop is trusted to be who it is, not to send sensible values. A timestamp in
the year 33658 or an integer of 2**63 is stored happily by protobuf, and then breaks
whoever reads it later (Python's datetime, SQLite's INTEGER, the breach workflow for
*every* device). So each event is checked here, field by field, and an event that fails is
rejected alone, with a reason the agent records in its dead-letter table.

The walk is driven by the message descriptors, so a field added to the contract later is
checked without anyone remembering to. Message types with nothing to check (most bodies
carry only strings, bools and small integers) are skipped at the cost of a dict lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

# SQLite's INTEGER and PostgreSQL's BIGINT are both signed 64-bit.
MAX_STORED_INT = 2**63 - 1
# Nothing Caseguard stores happened before this; a laptop whose clock says otherwise is wrong.
EARLIEST_PLAUSIBLE_US = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
# A laptop clock this far ahead of the collector's is not skew but nonsense.
MAX_FUTURE_US = 24 * 3600 * 1_000_000
# Ahead by more than this (and less than MAX_FUTURE_US) is stored, and flagged as skew.
SKEW_FLAG_US = 5 * 60 * 1_000_000

_TIMESTAMP = "google.protobuf.Timestamp"
_WIDE_INTS = frozenset(
    {
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The instants an event may claim, relative to the collector's clock when it arrives."""

    earliest_us: int
    latest_us: int
    skew_from_us: int

    @classmethod
    def around(cls, now_us: int) -> TimeWindow:
        """The window for events received at ``now_us``."""
        return cls(EARLIEST_PLAUSIBLE_US, now_us + MAX_FUTURE_US, now_us + SKEW_FLAG_US)

    def problem(self, field: str, us: int) -> str | None:
        """Why ``us`` is not acceptable for ``field``, or None."""
        if us < self.earliest_us:
            return f"{field} is before {_iso(self.earliest_us)}: the device clock is wrong"
        if us > self.latest_us:
            return f"{field} is more than 24 hours ahead of the collector's clock: the device clock is wrong"
        return None


def timestamp_us(seconds: int, nanos: int) -> int:
    """A protobuf Timestamp's value in microseconds since the epoch."""
    return seconds * 1_000_000 + nanos // 1000


def body_problem(body: Any, window: TimeWindow) -> str | None:
    """The first out-of-range value in an event body (any depth), as a reason; None if all fit."""
    return _message_problem(body, window, body.DESCRIPTOR.name)


def _message_problem(msg: Any, window: TimeWindow, path: str) -> str | None:
    if not _needs_walk(msg.DESCRIPTOR):
        return None
    for field, value in msg.ListFields():
        where = f"{path}.{field.name}"
        if field.message_type is not None:
            if field.message_type.GetOptions().map_entry:
                value_field = field.message_type.fields_by_name["value"]
                items = value.values() if value_field.message_type is not None else ()
                for item in items:
                    if (p := _message_problem(item, window, where)) is not None:
                        return p
                if value_field.type in _WIDE_INTS and any(not 0 <= v <= MAX_STORED_INT for v in value.values()):
                    return f"{where} has a value outside the storable range"
                continue
            values = value if field.is_repeated else (value,)
            for item in values:
                if field.message_type.full_name == _TIMESTAMP:
                    if (p := window.problem(where, timestamp_us(item.seconds, item.nanos))) is not None:
                        return p
                elif (p := _message_problem(item, window, where)) is not None:
                    return p
        elif field.type in _WIDE_INTS:
            values = value if field.is_repeated else (value,)
            if any(not -MAX_STORED_INT - 1 <= v <= MAX_STORED_INT for v in values):
                return f"{where} is outside the storable range (at most {MAX_STORED_INT})"
    return None


_WALK: dict[str, bool] = {}


def _needs_walk(descriptor: Descriptor) -> bool:
    """Whether a message type can hold a timestamp or a 64-bit integer anywhere below it."""
    known = _WALK.get(descriptor.full_name)
    if known is None:
        _WALK[descriptor.full_name] = False  # recursion guard for self-referencing types
        known = _WALK[descriptor.full_name] = _contains_checkable(descriptor)
    return known


def _contains_checkable(descriptor: Descriptor) -> bool:
    for field in descriptor.fields:
        if field.type in _WIDE_INTS:
            return True
        if field.message_type is not None and (
            field.message_type.full_name == _TIMESTAMP or _needs_walk(field.message_type)
        ):
            return True
    return False


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).date().isoformat()
