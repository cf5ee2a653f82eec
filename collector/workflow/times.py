"""Moments as the store keeps them (microseconds since the epoch) and the real clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def to_us(moment: datetime) -> int:
    """A UTC datetime as whole microseconds since the epoch."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds


# What a datetime can hold, a day inside each end (so a conversion to UK time cannot overflow).
FIRST_US = to_us(datetime(1, 1, 2, tzinfo=UTC))
LAST_US = to_us(datetime(9999, 12, 30, tzinfo=UTC))


def in_range_us(us: int) -> bool:
    """True when ``us`` is a moment a datetime can hold (an older collector stored some that are not)."""
    return FIRST_US <= us <= LAST_US


def from_us(us: int) -> datetime:
    """Microseconds since the epoch as a UTC datetime.

    A stored value outside what a datetime can hold (written before the boundary checks, or by
    hand) is clamped to the nearest end, so no page, listing or periodic check fails on it;
    pages that show times say it is not a valid time (``in_range_us``).
    """
    us = min(max(int(us), FIRST_US), LAST_US)
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def utc_now() -> datetime:
    """The real clock, in UTC (the default wherever a clock is injected)."""
    return datetime.now(UTC)
