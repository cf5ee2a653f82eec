"""The SIRO's and DPO's picture: the figures behind the dashboard's charts and their CSV downloads.

Pure: incidents and device postures in, tables out. Each incident gives one ``IncidentFigures``
(the same values the breach register's CSV carries, so the two never disagree); the charts
group those by calendar month in UK time, over the last ``months`` months up to ``now``.

- incidents by month and type (an incident of two types counts once under each);
- the share reported to the ICO (incidents with an initial ICO report / incidents opened);
- the median hours from the first signal (the first alert the collector received) to awareness,
  and from awareness to the initial ICO report;
- reports made late (after aware + 72 h) among those made;
- devices not encrypted, or without a lock the agent enforces, from each device's latest posture.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from collector.domain.checklists import TYPE_TEXT, incident_types
from collector.domain.clocks import LONDON, is_late
from collector.domain.event_facts import DevicePosture, EncryptionState
from collector.domain.incident import Incident

OTHER = "other"
TYPE_ORDER: tuple[str, ...] = (*TYPE_TEXT, OTHER)
TYPE_LABELS = {**TYPE_TEXT, OTHER: "Other"}


@dataclass(frozen=True)
class IncidentFigures:
    """One incident's figures: what the dashboard counts and the register's CSV carries."""

    incident_id: str
    month: str  # YYYY-MM of when it opened, UK time
    types: tuple[str, ...]  # checklist types, or ("other",)
    first_signal_at: datetime
    reported_to_ico: bool
    hours_signal_to_aware: float | None
    hours_aware_to_report: float | None
    reported_late: bool | None  # None while no ICO report has been made


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 3600, 1)


def month_of(moment: datetime) -> str:
    """The calendar month (UK time) a moment falls in, as YYYY-MM."""
    return moment.astimezone(LONDON).strftime("%Y-%m")


def incident_figures(incident: Incident) -> IncidentFigures:
    """The figures for one incident."""
    first = min((a.received_at for a in incident.alerts), default=incident.opened_at)
    initial = incident.initial_submission
    reported = initial.submitted_at if initial else None
    return IncidentFigures(
        incident_id=incident.incident_id,
        month=month_of(incident.opened_at),
        types=incident_types(incident) or (OTHER,),
        first_signal_at=first,
        reported_to_ico=initial is not None,
        hours_signal_to_aware=_hours(first, incident.aware_at),
        hours_aware_to_report=_hours(incident.aware_at, reported),
        reported_late=None if reported is None else is_late(incident, reported),
    )


Rows = tuple[tuple[str | float | None, ...], ...]


@dataclass(frozen=True)
class Chart:
    """One chart's table: a header and rows (the first column is the category, the rest numbers)."""

    key: str  # URL and file name part
    title: str
    summary: str  # one sentence saying what the chart shows, for the page and screen readers
    columns: tuple[str, ...]
    rows: Rows  # (category, value, ...)
    series: tuple[str, ...]  # the columns drawn as bars (a subset of columns[1:])
    stacked: bool = False
    unit: str = ""


def last_months(now: datetime, months: int) -> tuple[str, ...]:
    """The ``months`` calendar months (UK time) ending with the one ``now`` falls in, oldest first."""
    local = now.astimezone(LONDON)
    year, month = local.year, local.month
    out = []
    for _ in range(months):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return tuple(reversed(out))


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def incident_charts(figures: Iterable[IncidentFigures], now: datetime, months: int = 12) -> tuple[Chart, ...]:
    """The four incident charts over the last ``months`` months."""
    span = last_months(now, months)
    by_month: dict[str, list[IncidentFigures]] = {m: [] for m in span}
    for f in figures:
        if f.month in by_month:
            by_month[f.month].append(f)
    type_rows: Rows = tuple(
        (m, *(sum(1 for f in fs if t in f.types) for t in TYPE_ORDER)) for m, fs in by_month.items()
    )
    share_rows: Rows = tuple(
        (m, len(fs), sum(f.reported_to_ico for f in fs),
         round(100 * sum(f.reported_to_ico for f in fs) / len(fs)) if fs else None)
        for m, fs in by_month.items()
    )  # fmt: skip
    time_rows: Rows = tuple(
        (m,
         _median([f.hours_signal_to_aware for f in fs if f.hours_signal_to_aware is not None]),
         _median([f.hours_aware_to_report for f in fs if f.hours_aware_to_report is not None]))
        for m, fs in by_month.items()
    )  # fmt: skip
    late_rows: Rows = tuple(
        (m, sum(f.reported_to_ico for f in fs), sum(f.reported_late is True for f in fs)) for m, fs in by_month.items()
    )
    labels = tuple(TYPE_LABELS[t] for t in TYPE_ORDER)
    return (
        Chart("incidents-by-type", "Incidents by month and type",
              "How many incidents opened each month, by type (an incident of two types counts under each).",
              ("month", *labels), type_rows, labels, stacked=True),
        Chart("ico-share", "Share reported to the ICO",
              "Of the incidents opened each month, how many were reported to the ICO.",
              ("month", "incidents", "reported to the ICO", "share reported (%)"), share_rows,
              ("incidents", "reported to the ICO")),
        Chart("response-times", "Time to awareness and to report",
              "Median hours from the first signal to awareness, and from awareness to the ICO report, "
              "for incidents opened each month.",
              ("month", "median hours, first signal to awareness", "median hours, awareness to ICO report"),
              time_rows,
              ("median hours, first signal to awareness", "median hours, awareness to ICO report"), unit="h"),
        Chart("late-reports", "Late reports",
              "ICO reports made for incidents opened each month, and how many were made after the 72 hours.",
              ("month", "reports made", "reported late"), late_rows, ("reports made", "reported late")),
    )  # fmt: skip


def device_chart(postures: Iterable[tuple[str, DevicePosture | None]]) -> Chart:
    """Devices not encrypted, or without an enforced lock, from each device's latest posture."""
    seen = list(postures)
    not_encrypted = sum(
        1 for _, p in seen if p is not None and p.encryption in (EncryptionState.NOT_ENCRYPTED, EncryptionState.PARTIAL)
    )
    encryption_unknown = sum(
        1 for _, p in seen if p is None or p.encryption not in (
            EncryptionState.ENCRYPTED, EncryptionState.NOT_ENCRYPTED, EncryptionState.PARTIAL)
    )  # fmt: skip
    lock_not_enforced = sum(1 for _, p in seen if p is not None and not p.lock_enforced_by_agent)
    os_never_locks = sum(1 for _, p in seen if p is not None and p.os_lock_timeout_s == 0)
    no_posture = sum(1 for _, p in seen if p is None)
    rows: Rows = (
        ("Not encrypted (or only partly)", not_encrypted),
        ("Encryption not known", encryption_unknown),
        ("Lock not enforced by the agent", lock_not_enforced),
        ("Operating system never locks", os_never_locks),
        ("No posture reported yet", no_posture),
        ("All enrolled devices", len(seen)),
    )
    return Chart("devices", "Devices not protected",
                 "Enrolled devices whose latest report shows them not encrypted or without an enforced lock.",
                 ("finding", "devices"), rows, ("devices",))  # fmt: skip


def chart_csv_rows(chart: Chart) -> list[list[str]]:
    """The chart's table as CSV cells (header first; an unknown value is an empty cell)."""
    return [list(chart.columns), *([str(v) if v is not None else "" for v in row] for row in chart.rows)]
