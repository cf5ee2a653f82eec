"""Bar charts as server-rendered SVG: no scripts, no external files, text a screen reader can read.

``bar_chart`` draws a ``Chart`` (collector.domain.dashboard) as grouped or stacked vertical bars
with a value axis, category labels and a legend. Every bar has a ``<title>`` giving its exact
value, the SVG has a ``<title>``/``<desc>`` and ``role="img"``, and every text is escaped.
Colours come from a fixed palette with enough contrast on white; the table under each chart
(on the page) and its CSV carry the same numbers, so nothing is told by colour alone.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from collector.domain.dashboard import Chart

PALETTE = ("#1d4ed8", "#b3261e", "#00703c", "#8a4b00", "#505a5f", "#6b21a8")
WIDTH, PLOT_HEIGHT = 720, 206
LEFT, RIGHT, TOP = 56, 16, 16  # plot margins (room for the value axis)
LEGEND_ROW = 16


def _nice_top(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * exp:
            return float(step * exp)
    return float(10 * exp)  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _values(chart: Chart) -> tuple[list[str], list[list[float | None]]]:
    index = [chart.columns.index(s) for s in chart.series]
    categories = [str(row[0]) for row in chart.rows]
    values: list[list[float | None]] = []
    for row in chart.rows:
        picked: list[float | None] = []
        for i in index:
            v = row[i]
            picked.append(float(v) if isinstance(v, int | float) else None)
        values.append(picked)
    return categories, values


def _legend(series: tuple[str, ...]) -> list[tuple[float, int, str]]:
    """Where each legend entry goes: (x, row, name), wrapping before the right edge."""
    out, x, row = [], float(LEFT), 0
    for name in series:
        width = 24 + 6.2 * len(name)
        if x > LEFT and x + width > WIDTH - RIGHT:
            x, row = float(LEFT), row + 1
        out.append((x, row, name))
        x += width
    return out


def bar_chart(chart: Chart) -> str:
    """The chart as an SVG element (a string of markup, safe to place in a page)."""
    categories, values = _values(chart)
    legend = _legend(chart.series)
    rows = 1 + max((r for _, r, _ in legend), default=0)
    plot_h = PLOT_HEIGHT
    legend_top = TOP + plot_h + 30
    height = legend_top + rows * LEGEND_ROW + 4
    n_series = len(chart.series)
    if chart.stacked:
        peak = max((sum(v or 0.0 for v in vs) for vs in values), default=0.0)
    else:
        peak = max((v for vs in values for v in vs if v is not None), default=0.0)
    top = _nice_top(peak)
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / max(1, len(categories))
    group_w = slot * 0.7
    bar_w = group_w if chart.stacked else group_w / max(1, n_series)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'class="chart" aria-labelledby="chart-{chart.key}-title chart-{chart.key}-desc">',
        f'<title id="chart-{chart.key}-title">{escape(chart.title)}</title>',
        f'<desc id="chart-{chart.key}-desc">{escape(chart.summary)}</desc>',
    ]
    for i in range(5):  # the value axis: five lines from 0 to the top
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#b1b4b6"/>')
        label = _number(value) + chart.unit
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{escape(label)}</text>')
    for c, (category, vs) in enumerate(zip(categories, values, strict=True)):
        x0 = LEFT + c * slot + (slot - group_w) / 2
        base = 0.0
        for s, v in enumerate(vs):
            if v is None:
                continue
            h = plot_h * v / top
            x = x0 if chart.stacked else x0 + s * bar_w
            y = TOP + plot_h - h - (plot_h * base / top if chart.stacked else 0)
            tip = f"{category}: {chart.series[s]} {_number(v)}{chart.unit}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(tip)}</title></rect>'
            )
            if chart.stacked:
                base += v
        cx = LEFT + c * slot + slot / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" font-size="11">{escape(category)}</text>'
        )
    for s, (x, row, name) in enumerate(legend):  # the legend, in reading order
        y = legend_top + row * LEGEND_ROW
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="12" height="12" fill="{PALETTE[s % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 16:.1f}" y="{y + 10}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def chart_link(chart: Chart) -> str:
    """Where the chart's CSV is downloaded."""
    return f"/dashboard/{chart.key}.csv"

