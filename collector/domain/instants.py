"""What counts as a moment in time in the domain: a timezone-aware UTC datetime.

The clock is always passed in by the caller; nothing in ``collector.domain`` reads it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collector.domain.errors import InvalidTimestamp


def require_utc(value: datetime, name: str) -> datetime:
    """Return ``value`` as a UTC datetime, or raise ``InvalidTimestamp`` if it is naive or not UTC.

    Any tzinfo whose offset is zero is accepted and normalised to ``datetime.UTC``, so values
    from ``zoneinfo.ZoneInfo("UTC")`` and ``timezone.utc`` compare and format identically.
    """
    if not isinstance(value, datetime):
        raise InvalidTimestamp(f"{name} must be a datetime, not {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise InvalidTimestamp(f"{name} must be timezone-aware UTC; got a naive datetime")
    if offset != timedelta(0):
        raise InvalidTimestamp(f"{name} must be in UTC; got offset {offset}")
    return value.replace(tzinfo=UTC)


def require_optional_utc(value: datetime | None, name: str) -> datetime | None:
    """Like ``require_utc`` but lets ``None`` through."""
    return None if value is None else require_utc(value, name)


def iso_utc(value: datetime) -> str:
    """Format a UTC datetime as ISO 8601 with a ``Z`` suffix and microseconds, e.g. for hashing."""
    return require_utc(value, "value").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso_utc(text: str) -> datetime:
    """Parse text written by ``iso_utc`` (or any ISO 8601 UTC form) back into a UTC datetime."""
    return require_utc(datetime.fromisoformat(text.replace("Z", "+00:00")), "timestamp")
