"""The dashboard's figures and its SVG charts (issue 15: "a picture for the SIRO and DPO").

The figures are the register's: each incident's month, types, whether the ICO was told, the
hours from first signal to awareness and from awareness to report, and lateness. Months are
UK calendar months, so an incident opened at 23:30 UTC on 31 July 2025 (00:30 BST on
1 August) counts in August.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from collector.console.charts import bar_chart
from collector.domain.dashboard import (
    Chart,
    chart_csv_rows,
    device_chart,
    incident_charts,
    incident_figures,
    last_months,
)
from collector.domain.event_facts import DevicePosture, EncryptionState
from collector.domain.register import register_row

from .builders import T0, egress_alert, new_incident
from .test_register import dismissed, not_reported, reported_late

SVG = "{http://www.w3.org/2000/svg}"


def _row(chart: Chart, month: str) -> dict[str, object]:
    row = next(r for r in chart.rows if r[0] == month)
    return dict(zip(chart.columns, row, strict=True))


def test_each_incident_gives_the_figures_the_register_carries():
    late = incident_figures(reported_late())
    assert (late.month, late.types) == ("2025-10", ("lost_device",))
    assert (late.reported_to_ico, late.reported_late) == (True, True)
    assert (late.hours_signal_to_aware, late.hours_aware_to_report) == (0.0, 80.0)
    row = register_row(reported_late())
    assert (row.incident_types, row.hours_signal_to_aware, row.hours_aware_to_report) == (
        "Lost or stolen device", "0.0", "80.0")
    assert row.first_signal_at == "2025-10-20T09:00:00.000000Z"
    pending = incident_figures(not_reported())
    assert (pending.reported_to_ico, pending.reported_late, pending.hours_aware_to_report) == (False, None, None)
    assert register_row(not_reported()).hours_aware_to_report == ""


def test_months_are_uk_calendar_months_and_the_span_ends_with_this_one():
    late_july_utc = datetime(2025, 7, 31, 23, 30, tzinfo=UTC)  # 00:30 BST on 1 August
    assert incident_figures(new_incident(egress_alert(at=late_july_utc), opened_at=late_july_utc)).month == "2025-08"
    assert last_months(datetime(2026, 2, 10, tzinfo=UTC), 3) == ("2025-12", "2026-01", "2026-02")


def test_the_charts_count_by_month_type_ico_share_times_and_lateness():
    november = T0 + timedelta(days=20)
    usb = new_incident(egress_alert(at=november), "inc-d", opened_at=november)
    figures = [incident_figures(i) for i in (reported_late(), not_reported(), dismissed(), usb)]
    by_type, share, times, late = incident_charts(figures, now=T0 + timedelta(days=25), months=2)
    assert [r[0] for r in by_type.rows] == ["2025-10", "2025-11"]
    october = _row(by_type, "2025-10")
    assert (october["Lost or stolen device"], october["Case files copied to removable media"]) == (2, 1)
    assert _row(by_type, "2025-11")["Case files copied to removable media"] == 1
    assert _row(share, "2025-10") == {"month": "2025-10", "incidents": 3, "reported to the ICO": 1,
                                      "share reported (%)": 33}  # fmt: skip
    assert _row(share, "2025-11")["share reported (%)"] == 0
    assert _row(times, "2025-10")["median hours, awareness to ICO report"] == 80.0
    assert _row(times, "2025-11")["median hours, first signal to awareness"] is None  # nobody aware yet
    assert (_row(late, "2025-10")["reports made"], _row(late, "2025-10")["reported late"]) == (1, 1)
    assert chart_csv_rows(share)[1] == ["2025-10", "3", "1", "33"]
    assert chart_csv_rows(times)[2][1] == ""  # unknown is an empty cell, not "None"


def test_the_device_chart_counts_unencrypted_unlocked_and_silent_devices():
    at = T0
    chart = device_chart([
        ("laptop-1", DevicePosture(at, EncryptionState.ENCRYPTED, lock_enforced_by_agent=True, os_lock_timeout_s=300)),
        ("laptop-2", DevicePosture(at, EncryptionState.NOT_ENCRYPTED, lock_enforced_by_agent=False)),
        ("laptop-3", DevicePosture(at, EncryptionState.PARTIAL, lock_enforced_by_agent=True, os_lock_timeout_s=0)),
        ("laptop-4", None),
    ])  # fmt: skip
    counts = {str(r[0]): r[1] for r in chart.rows}
    assert counts["Not encrypted (or only partly)"] == 2
    assert counts["Lock not enforced by the agent"] == 1
    assert counts["Operating system never locks"] == 1
    assert counts["No posture reported yet"] == 1 and counts["Encryption not known"] == 1
    assert counts["All enrolled devices"] == 4


def test_a_chart_is_well_formed_svg_with_one_titled_bar_per_value_and_escaped_text():
    chart = Chart("x", "Incidents <b>&</b>", "What it shows", ("month", "a", "b"),
                  (("2025-10", 3, 1), ("<script>", 0, None)), ("a", "b"))  # fmt: skip
    root = ET.fromstring(bar_chart(chart))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.findtext(f"{SVG}title") == "Incidents <b>&</b>"
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert [b.findtext(f"{SVG}title") for b in bars] == ["2025-10: a 3", "2025-10: b 1", "<script>: a 0"]
    heights = [float(b.get("height", "0")) for b in bars]
    assert abs(heights[0] - 3 * heights[1]) < 0.2 and heights[2] == 0.0  # bars to scale; a missing value draws nothing
    assert "<script>" not in bar_chart(chart)


def test_a_stacked_chart_stacks_and_its_axis_covers_the_tallest_stack():
    chart = Chart("s", "t", "d", ("month", "a", "b"), (("m1", 4, 3), ("m2", 1, 0)), ("a", "b"), stacked=True)
    root = ET.fromstring(bar_chart(chart))
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    a, b = bars[0], bars[1]
    assert a.get("x") == b.get("x")  # same column
    assert abs(float(b.get("y", "0")) + float(b.get("height", "0")) - float(a.get("y", "0"))) < 0.2  # b sits on a
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "10" in labels  # 7 rounds up to an axis of 10
