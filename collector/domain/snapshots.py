"""Lossless JSON snapshots of domain values (alerts, incidents) for the store to keep.

``snapshot(value)`` turns any frozen dataclass of this package into JSON values
(enums by value, datetimes as ISO 8601 UTC, tuples as lists); ``restore(cls, data)``
rebuilds it from the type hints, so every field survives a round trip. Unknown keys are
refused rather than dropped; keys missing from older snapshots take the field's default.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from datetime import datetime
from typing import Any, TypeVar

from collector.domain.canonical_json import JsonValue
from collector.domain.instants import iso_utc, parse_iso_utc
from collector.errors import CollectorError

T = TypeVar("T")


class SnapshotError(CollectorError, ValueError):
    """A snapshot does not match the shape of the class it is restored as."""


def snapshot(value: object) -> JsonValue:
    """The JSON form of a domain value (dataclass, enum, datetime, tuple or plain scalar)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: snapshot(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        raw = value.value
        return raw if isinstance(raw, (str, int)) else str(raw)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, tuple):
        return [snapshot(v) for v in value]
    if isinstance(value, dict):
        return {str(k): snapshot(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise SnapshotError(f"cannot snapshot {type(value).__name__}")


def restore(cls: type[T], data: JsonValue) -> T:
    """Rebuild a ``cls`` instance from ``snapshot`` output; raises ``SnapshotError`` on a mismatch."""
    result: T = _decode(cls, data, cls.__name__)
    return result


def _decode(hint: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        if data is None and type(None) in options:
            return None
        concrete = [o for o in options if o is not type(None)]
        if len(concrete) != 1:
            raise SnapshotError(f"{where}: unsupported union {hint}")
        return _decode(concrete[0], data, where)
    if origin is tuple:
        if not isinstance(data, list):
            raise SnapshotError(f"{where}: expected a list")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], item, f"{where}[]") for item in data)
        if len(args) != len(data):
            raise SnapshotError(f"{where}: expected {len(args)} items")
        return tuple(_decode(a, item, f"{where}[]") for a, item in zip(args, data, strict=True))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _decode_dataclass(hint, data, where)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except ValueError as exc:
            raise SnapshotError(f"{where}: {data!r} is not a {hint.__name__}") from exc
    if hint is datetime:
        if not isinstance(data, str):
            raise SnapshotError(f"{where}: expected an ISO 8601 time")
        return parse_iso_utc(data)
    if hint is float and isinstance(data, (int, float)) and not isinstance(data, bool):
        return float(data)
    if hint in (str, int, bool) and type(data) is hint:
        return data
    raise SnapshotError(f"{where}: {data!r} does not fit {hint}")


_SHAPES: dict[type[Any], tuple[dict[str, Any], frozenset[str]]] = {}


def _shape(cls: type[Any]) -> tuple[dict[str, Any], frozenset[str]]:
    """A dataclass's resolved field types and its constructor fields (cached: resolving is slow)."""
    if cls not in _SHAPES:
        _SHAPES[cls] = typing.get_type_hints(cls), frozenset(f.name for f in dataclasses.fields(cls) if f.init)
    return _SHAPES[cls]


def _decode_dataclass(cls: type[Any], data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise SnapshotError(f"{where}: expected an object")
    hints, fields = _shape(cls)
    unknown = set(data) - set(fields)
    if unknown:
        raise SnapshotError(f"{where}: unknown fields {sorted(unknown)}")
    kwargs = {name: _decode(hints[name], data[name], f"{where}.{name}") for name in fields if name in data}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise SnapshotError(f"{where}: {exc}") from exc
