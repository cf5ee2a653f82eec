"""The 72-hour ICO clock, the provisional clock before it, and deadline warnings.

The statutory deadline is ``aware_at`` + 72 elapsed hours (Art. 33: calendar hours,
weekends count). It is always computed, never stored. Across a clock change the wall-clock
time of the deadline moves by an hour: aware at 10:00 BST on a Friday before the October
change gives a deadline of 09:00 GMT on the Monday, 72 real hours later.

A provisional clock runs from the first high-confidence signal (a self-reported loss, a
confirmed copy) until someone confirms or dismisses the incident, so a suspected breach
cannot sit unnoticed. Setting aware_at later than that start needs a written justification.
The statutory clock stops when the initial ICO report is recorded or the incident is
decided not reportable (and runs again if that decision is withdrawn by reopening).

Warnings: at 24, 12 and 4 hours left, and once when the deadline has passed, each sent at
most once per clock. If several thresholds were crossed while the process was down, only
the most urgent one is sent; the skipped ones are never sent later (a "24 hours left" with
3 hours left would mislead). Callers remember which warning keys they sent.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from collector.domain.alerts import Alert, AlertKind
from collector.domain.errors import AwarenessJustificationRequired, InvalidTimestamp
from collector.domain.incident import Incident, IncidentEvent, IncidentState
from collector.domain.instants import require_utc

STATUTORY_WINDOW = timedelta(hours=72)
LONDON = ZoneInfo("Europe/London")


class ClockKind(enum.StrEnum):
    """Which clock a deadline belongs to."""

    PROVISIONAL = "provisional"
    STATUTORY = "statutory"


@dataclass(frozen=True)
class ClockPolicy:
    """What counts as a high-confidence signal, and when to warn before a deadline."""

    high_confidence: float = 0.9
    confirming_reasons: frozenset[str] = frozenset({"exact"})
    warning_thresholds: tuple[timedelta, ...] = (
        timedelta(hours=24),
        timedelta(hours=12),
        timedelta(hours=4),
        timedelta(0),
    )


DEFAULT_CLOCK_POLICY = ClockPolicy()


def statutory_deadline(aware_at: datetime) -> datetime:
    """aware_at plus 72 elapsed hours, in UTC."""
    return require_utc(aware_at, "aware_at") + STATUTORY_WINDOW


def format_london(moment: datetime) -> str:
    """A UTC moment as UK local time for people, e.g. ``Thu 3 Dec 2026, 09:00 GMT`` (never 12/03).

    The month is a word, so no reader can take 3 December for 12 March.
    """
    local = require_utc(moment, "moment").astimezone(LONDON)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M %Z}"


def is_high_confidence(alert: Alert, policy: ClockPolicy = DEFAULT_CLOCK_POLICY) -> bool:
    """True for a self-reported loss, or a copy matched exactly or with high confidence."""
    if alert.kind is AlertKind.LOST_DEVICE:
        return True
    if alert.kind in (AlertKind.CASE_FILE_EGRESS, AlertKind.CASE_FILES_FOUND):
        confirmed = any(r in policy.confirming_reasons for r in alert.reasons)
        return confirmed or (alert.confidence or 0.0) >= policy.high_confidence
    return False


def provisional_start(incident: Incident, policy: ClockPolicy = DEFAULT_CLOCK_POLICY) -> datetime | None:
    """When the collector received the incident's first high-confidence signal, or None."""
    return min((a.received_at for a in incident.alerts if is_high_confidence(a, policy)), default=None)


def deadline(incident: Incident) -> datetime | None:
    """The statutory deadline (aware_at + 72 h), or None while nobody is aware."""
    return None if incident.aware_at is None else statutory_deadline(incident.aware_at)


def statutory_stopped_at(incident: Incident) -> datetime | None:
    """When the statutory clock stopped: initial ICO report, or a not-reportable decision; else None."""
    initial = incident.initial_submission
    if initial is not None:
        return initial.submitted_at
    if incident.reportability is not None and not incident.reportability.reportable:
        return incident.reportability.at
    return None


@dataclass(frozen=True)
class ClockStatus:
    """The clock that matters for an incident now: which, since when, until when, stopped when."""

    kind: ClockKind | None
    started_at: datetime | None = None
    deadline: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def running(self) -> bool:
        """True while a deadline applies and the clock has not stopped."""
        return self.deadline is not None and self.stopped_at is None

    def remaining(self, now: datetime) -> timedelta | None:
        """Time left before the deadline (negative once passed), or None when no clock runs."""
        if not self.running or self.deadline is None:
            return None
        return self.deadline - require_utc(now, "now")


def clock_status(incident: Incident, policy: ClockPolicy = DEFAULT_CLOCK_POLICY) -> ClockStatus:
    """Which clock applies to ``incident`` and where it stands (independent of the current time)."""
    if incident.aware_at is not None:
        return ClockStatus(
            ClockKind.STATUTORY,
            incident.aware_at,
            statutory_deadline(incident.aware_at),
            statutory_stopped_at(incident),
        )
    start = provisional_start(incident, policy)
    if start is None:
        return ClockStatus(None)
    stopped = None
    if incident.state is IncidentState.DISMISSED:
        stopped = next(d.at for d in reversed(incident.decisions) if d.event is IncidentEvent.DISMISS)
    return ClockStatus(ClockKind.PROVISIONAL, start, start + STATUTORY_WINDOW, stopped)


def breach_began_at(incident: Incident) -> datetime:
    """The earliest moment the evidence says the breach happened (an alert, or a reported loss time)."""
    moments = [a.occurred_at for a in incident.alerts]
    moments += [a.lost_report.lost_at for a in incident.alerts if a.lost_report and a.lost_report.lost_at]
    return min(moments)


def check_awareness(
    incident: Incident,
    aware_at: datetime,
    justification: str,
    now: datetime,
    policy: ClockPolicy = DEFAULT_CLOCK_POLICY,
) -> None:
    """Raise unless ``aware_at`` may be recorded: not in the future, not before the breach, justified if late.

    Nobody can be aware of a breach before it happened: ``aware_at`` before the minute of
    ``breach_began_at`` would put the deadline before the breach itself.
    """
    aware = require_utc(aware_at, "aware_at")
    if aware > require_utc(now, "now"):
        raise InvalidTimestamp("aware_at cannot be in the future")
    # People give times to the minute: the minute the breach began is allowed.
    began = breach_began_at(incident)
    if aware < began.replace(second=0, microsecond=0):
        raise InvalidTimestamp(
            f"aware_at ({format_london(aware)}) is before the breach happened ({format_london(began)}): "
            "the organisation cannot have been aware of it yet"
        )
    start = provisional_start(incident, policy)
    if start is not None and aware > start and not justification.strip():
        raise AwarenessJustificationRequired(
            f"aware_at ({format_london(aware)}) is later than the first high-confidence signal "
            f"({format_london(start)}): write down why the organisation was not aware earlier"
        )


def is_late(incident: Incident, submitted_at: datetime) -> bool:
    """True when an initial ICO report at ``submitted_at`` would be after the statutory deadline."""
    due = deadline(incident)
    return due is not None and require_utc(submitted_at, "submitted_at") > due


@dataclass(frozen=True)
class WarningKey:
    """Identifies one warning of one clock; the caller stores the keys it has sent."""

    clock: ClockKind
    threshold: timedelta

    def as_text(self) -> str:
        """A short stable text form for storage, e.g. ``statutory:86400``."""
        return f"{self.clock}:{int(self.threshold.total_seconds())}"


@dataclass(frozen=True)
class DeadlineWarning:
    """A warning to send now: ``remaining`` is the actual time left (negative when overdue)."""

    incident_id: str
    key: WarningKey
    deadline: datetime
    remaining: timedelta
    message: str


def warnings_due(
    incident: Incident,
    sent: Collection[WarningKey],
    now: datetime,
    policy: ClockPolicy = DEFAULT_CLOCK_POLICY,
) -> tuple[DeadlineWarning, ...]:
    """The warnings to send now: at most one, for the most urgent threshold crossed and not yet sent.

    Returns nothing when no clock runs, no threshold is crossed, or the most urgent crossed
    threshold was already sent (less urgent ones passed over are deliberately never sent).
    """
    current = require_utc(now, "now")
    status = clock_status(incident, policy)
    remaining = status.remaining(current)
    if status.kind is None or status.deadline is None or remaining is None:
        return ()
    crossed = [t for t in policy.warning_thresholds if remaining <= t]
    if not crossed:
        return ()
    key = WarningKey(status.kind, min(crossed))
    if key in sent:
        return ()
    return (
        DeadlineWarning(
            incident.incident_id, key, status.deadline, remaining, _message(key.clock, status.deadline, remaining)
        ),
    )


def _message(clock: ClockKind, due: datetime, remaining: timedelta) -> str:
    when = format_london(due)
    if clock is ClockKind.PROVISIONAL:
        lead = "Suspected breach not yet confirmed or dismissed: if the organisation was aware at the first signal"
        if remaining <= timedelta(0):
            return f"{lead}, the 72-hour ICO deadline passed at {when}."
        return f"{lead}, the 72-hour ICO deadline is {when} ({_hours(remaining)} left)."
    if remaining <= timedelta(0):
        return f"The 72-hour ICO deadline passed at {when}; a late report must give reasons for the delay."
    return f"{_hours(remaining)} left to notify the ICO or decide not to: deadline {when}."


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"
