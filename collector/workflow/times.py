"""Moments as the store keeps them (microseconds since the epoch) and the real clock."""

from __future__ import annotations

from datetime import UTC, datetime


def to_us(moment: datetime) -> int:
    """A UTC datetime as whole microseconds since the epoch."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    """Microseconds since the epoch as a UTC datetime."""
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)


def utc_now() -> datetime:
    """The real clock, in UTC (the default wherever a clock is injected)."""
    return datetime.now(UTC)
