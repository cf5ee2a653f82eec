"""Moments as people type them (ISO 8601, UK local time when no zone is given), for the CLI and the console."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from collector.domain.clocks import LONDON


def moment(text: str) -> datetime:
    """ISO 8601 text as UTC; without a zone it is UK local time."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date and time like 2026-11-20T17:30") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LONDON)
    return value.astimezone(UTC)
