"""The inbox sorts by seriousness (issue 15, finding 7).

The issue's case: seventeen case files on a USB stick, graded reportable at confidence 0.87
(below the 0.9 provisional-clock threshold), so no clock; it sorted below a "low" incident
whose provisional clock was ticking. An IG officer must see the reportable one first.
"""

from __future__ import annotations

from typing import Any

from collector.console.presenters import Countdown, InboxRow, inbox_order


def row(iid: str, grade: str, hours_left: float | None, opened: str = "2026-12-01T09:00:00Z") -> InboxRow:
    summary: dict[str, Any] = {"incident_id": iid, "risk_grade": grade, "opened_at": opened}
    if hours_left is None:
        clock = Countdown("", "no clock", "", "", "none", None)
    else:
        clock = Countdown("provisional", "left", "", "x", "running", hours_left)
    return InboxRow(summary, clock, [], "")


def order(*rows: InboxRow) -> list[str]:
    return [str(r.summary["incident_id"]) for r in sorted(rows, key=inbox_order)]


def test_a_reportable_incident_without_a_clock_sorts_above_a_low_one_with_a_clock():
    usb = row("usb-17-files", "reportable", None)
    low = row("low-with-clock", "low", 40.0)
    assert order(low, usb) == ["usb-17-files", "low-with-clock"]


def test_a_pressing_deadline_comes_first_unless_the_incident_is_graded_low():
    overdue = row("unassessed-overdue", "unassessed", -2.0)
    high = row("high-no-clock", "high", None)
    low_urgent = row("low-urgent", "low", 1.0)
    assert order(low_urgent, high, overdue) == ["unassessed-overdue", "high-no-clock", "low-urgent"]


def test_within_a_grade_the_clock_that_runs_out_first_leads_then_age():
    a = row("a", "reportable", 50.0)
    b = row("b", "reportable", 30.0)
    c = row("c", "reportable", None, opened="2026-11-30T09:00:00Z")
    d = row("d", "reportable", None, opened="2026-12-01T09:00:00Z")
    assert order(d, a, c, b) == ["b", "a", "c", "d"]
