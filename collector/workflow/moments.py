"""Moments as people type them (ISO 8601, UK local time when no zone is given), for the CLI and the console."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from collector.domain.clocks import LONDON


def moment(text: str) -> datetime:
    """ISO 8601 text as UTC; without a zone it is UK local time.

    A UK time that does not exist (the hour skipped when clocks go forward) or that
    happens twice (the hour repeated when they go back) is refused: taking either
    silently as the other would move a statutory clock by an hour.
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date and time like 2026-11-20T17:30") from None
    if value.tzinfo is None:
        return uk_local_time(value)
    return value.astimezone(UTC)


def uk_local_time(wall: datetime) -> datetime:
    """A naive UK wall-clock time as UTC; refuses times skipped or repeated by a clock change."""
    first = wall.replace(tzinfo=LONDON, fold=0)
    second = wall.replace(tzinfo=LONDON, fold=1)
    if first.utcoffset() != second.utcoffset():
        text = wall.strftime("%H:%M on %d %b %Y")
        if first.astimezone(UTC).astimezone(LONDON).replace(tzinfo=None) != wall:
            raise argparse.ArgumentTypeError(
                f"{text} does not exist in the UK: the clocks went forward an hour. Give the time with its "
                "zone (e.g. 2027-03-28T01:30+00:00) or a time outside the skipped hour"
            )
        raise argparse.ArgumentTypeError(
            f"{text} happened twice in the UK: the clocks went back an hour. Give the time with its zone "
            "(+01:00 for the first, +00:00 for the second)"
        )
    return first.astimezone(UTC)
